// Child processes without a shell: the program and every argument are passed as an argument vector
// (posix_spawnp), so no user string is ever parsed by /bin/sh.
#pragma once
#include <string>
#include <vector>

namespace gradc::cli {

struct SpawnResult {
  int status = -1;  // exit status; -1: could not be started or was killed by a signal
  std::string out;  // everything the child wrote to stdout
  std::string err;  // and to stderr, when SpawnOptions::capture_stderr
};

struct SpawnOptions {
  std::vector<std::string> extra_env;  // "NAME=value" entries added to (and overriding) this process's
  std::string cwd;                     // the child's working directory ("" = ours)
  bool capture_stderr = false;         // the child's stderr into SpawnResult::err (else ours)
  std::string stdin_data;              // written to the child's stdin through a pipe ("" = /dev/null)
};

// Runs argv[0] (searched in PATH unless it contains '/') with `argv`, stdout captured; the strings in
// `opt` are handed to the kernel as data, never to a shell. A script fed as stdin_data never touches
// the file system, so nobody can swap it between our write and the child's read.
SpawnResult run_capture(const std::vector<std::string>& argv, const SpawnOptions& opt = {});

}  // namespace gradc::cli
