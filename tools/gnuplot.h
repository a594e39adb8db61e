// Charts through gnuplot (a child process given an argument vector, never a shell) and the CSV
// files they read.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace gradc::cli {

// Creates `dir` and opens dir/file for writing with `header` as its first line (a benchmark's
// --report CSV; a symlink there is refused, not followed); throws std::invalid_argument naming the
// path when it cannot.
std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header);

// A file a gnuplot script reads, by its plain name.
struct PlotData {
  std::string name, content;
};
// `name` of `dir`, read as a regular file (for a CSV written there first).
PlotData data_file(const std::string& dir, const std::string& name);

// Runs a gnuplot script (pngcairo terminal, comma-separated data) and throws with gnuplot's own
// complaint on failure. No file another user could plant or swap is ever read or executed:
//  - the script reaches gnuplot through a pipe (stdin), never as a file;
//  - gnuplot runs in a fresh private directory inside `dir` (runtime/files.h PrivateDir) holding
//    `data`, so it reads only files we just created there and draws every `set output 'NAME'`
//    there too;
//  - each NAME is then renamed to `renames[NAME]` if given, else to dir/NAME: rename() replaces
//    whatever is at the destination (a link included) and never writes through it.
// Scripts name only files of their own, never a user's path: gnuplot strings can run commands.
void run_gnuplot(const std::string& dir, const std::string& script, const std::vector<PlotData>& data = {},
                 const std::map<std::string, std::string>& renames = {});

}  // namespace gradc::cli
