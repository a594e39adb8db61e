// Reading user-named files safely: only regular files (symlinks resolved) are opened, without ever
// blocking — a FIFO, device, socket or directory named as a data file or checkpoint is a named
// error instead of a hang.
#pragma once
#include <cstddef>
#include <string>

namespace gradc {

// An fd of the regular file `path`, opened read-only; throws DataError naming the path and what it
// is otherwise ("file not found", "is a FIFO, not a regular file", ...). The caller closes it.
int open_regular(const std::string& path);

// The whole regular file `path` (throws DataError as above, or when it exceeds max_bytes).
std::string read_regular(const std::string& path, size_t max_bytes);

// Creates directory `dir` (and its parents) or throws DataError naming `what` (a flag) and the path.
void make_dirs(const std::string& dir, const std::string& what);

// What `path` is, for messages: "a FIFO", "a directory", "a socket", "a device", "a regular file",
// or "missing".
std::string file_kind(const std::string& path);

}  // namespace gradc
