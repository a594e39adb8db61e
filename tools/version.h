// What this build and run are: for --version and the report's header.
#pragma once
#include <string>

namespace gradc::cli {

// "gradc 0.1.0 (LLVM 19.1.x, clang 19.1.x)".
std::string version_text();
// The CPU's model name from /proc/cpuinfo ("AMD EPYC ..."), "" when unknown.
std::string cpu_model_name();

// The process's command line for display (set once by main; arguments with spaces or quotes are
// single-quoted as a shell would need them — shown to people, never run).
void set_command_line(int argc, const char* const* argv);
const std::string& command_line();
// Now, as "2026-11-27 23:30:05 UTC" (local time and zone).
std::string local_time_text();

}  // namespace gradc::cli
