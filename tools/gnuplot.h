// Charts through gnuplot (a child process given an argument vector, never a shell) and the CSV
// files they read.
#pragma once
#include <cstdio>
#include <string>

namespace gradc::cli {

// Creates `dir` and opens dir/file for writing with `header` as its first line (a benchmark's
// --report CSV); throws std::invalid_argument naming the path when it cannot.
std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header);

// Runs a gnuplot script in `dir` (pngcairo terminal, comma-separated data); throws with gnuplot's
// complaint on failure. Scripts name only files of their own, never a user's path: gnuplot strings
// can run commands through system().
void run_gnuplot(const std::string& dir, const std::string& script);

}  // namespace gradc::cli
