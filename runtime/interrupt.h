// Ctrl-C and SIGTERM as a request, not a kill: the first one sets a flag that a training loop reads
// after each step (it then stops, checkpoints and reports); a second one ends the process at once,
// as the default handlers would.
#pragma once
#include <csignal>

namespace gradc {

// Installs the handlers (SIGINT, SIGTERM) once; returns the flag: 0, or the first signal's number.
const volatile std::sig_atomic_t* install_stop_signals();

// "SIGINT" / "SIGTERM" / "signal N".
const char* signal_name(int sig);

}  // namespace gradc
