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

// Runs argv[0] (searched in PATH unless it contains '/') with `argv`, this process's environment
// plus `extra_env` ("NAME=value" entries, which override), stdin from /dev/null, stderr inherited.
SpawnResult run_capture(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

}  // namespace gradc::cli
