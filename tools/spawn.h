// Child processes without a shell: the program and every argument are passed as an argument vector
// (posix_spawnp), so no user string is ever parsed by /bin/sh.
#pragma once
#include <string>
#include <vector>

namespace gradc::cli {

struct SpawnResult {
  int status = -1;  // exit status; -1: could not be started or was killed by a signal
  std::string out;  // everything the child wrote to stdout
};

struct SpawnOptions {
  std::vector<std::string> extra_env;  // "NAME=value" entries added to (and overriding) this process's
  std::string cwd;                     // the child's working directory ("" = ours)
  std::string stderr_path;             // the child's stderr goes to this file ("" = ours)
};

// Runs argv[0] (searched in PATH unless it contains '/') with `argv`, stdin from /dev/null, stdout
// captured; the paths in `opt` are handed to the kernel as data, never to a shell.
SpawnResult run_capture(const std::vector<std::string>& argv, const SpawnOptions& opt = {});

}  // namespace gradc::cli
