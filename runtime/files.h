// Reading user-named files safely: only regular files (symlinks resolved) are opened, without ever
// blocking — a FIFO, device, socket or directory named as a data file or checkpoint is a named
// error instead of a hang.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gradc {

// An fd of the regular file `path`, opened read-only; throws DataError naming the path and what it
// is otherwise ("file not found", "is a FIFO, not a regular file", ...). The caller closes it.
int open_regular(const std::string& path);

// The whole regular file `path` (throws DataError as above, or when it exceeds max_bytes).
std::string read_regular(const std::string& path, size_t max_bytes);

// A regular file (open_regular's checks) read at offsets, so that a format's header can be checked
// against the file's size before any of its body is read. Closed when the object goes.
class RegularFile {
 public:
  explicit RegularFile(const std::string& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  uint64_t size() const { return size_; }
  // Exactly n bytes from `offset`, or DataError naming the file (read error, or the file shrank).
  void read(uint64_t offset, void* out, size_t n) const;
  std::string read(uint64_t offset, size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Creates directory `dir` (and its parents) or throws DataError naming `what` (a flag) and the path.
void make_dirs(const std::string& dir, const std::string& what);

// What `path` is, for messages: "a FIFO", "a directory", "a socket", "a device", "a regular file",
// or "missing".
std::string file_kind(const std::string& path);

// An output file the command will write, checked before any work: `path` must be missing or a
// regular file (a FIFO would block the writer forever, a directory or device is a mistake) in a
// directory that exists. Throws DataError naming `what` (a flag) and the path.
void check_output_file(const std::string& path, const std::string& what);

// Writes `content` to `path` atomically and without following links: a new file of a random name
// beside it (O_CREAT|O_EXCL|O_NOFOLLOW, every write checked), then rename() over `path`, which
// replaces a symlink there instead of writing through it. Throws DataError naming `path`.
void write_file(const std::string& path, std::string_view content);
// The same for content in pieces (no copy into one buffer); `durable`: the file is fsynced before
// the rename and the directory after it (checkpoints: a crash leaves the old file or the new one).
void write_file(const std::string& path, const std::vector<std::string_view>& pieces, bool durable);

// Creates file `path`, which must not exist (O_CREAT|O_EXCL|O_NOFOLLOW), with `content`, every
// write checked; throws DataError naming the path.
void write_new_file(const std::string& path, std::string_view content);

// An output directory held by this run: flock on DIR/.gradc.lock (opened without following a
// link), released when the object goes or the process ends however it ends, so no stale lock
// survives a kill -9. A second gradc run writing into the same directory is a DataError naming
// `what` (a flag), the directory and the holder's pid — two runs used to interleave metrics.csv
// and checkpoints silently. Within one process a directory may be held more than once (a report
// inside the checkpoint directory).
class DirLock {
 public:
  DirLock(const std::string& dir, const std::string& what);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  uint64_t dev_ = 0, ino_ = 0;
};

// A fresh directory of our own inside `parent` (mkdtemp: a random name, mode 0700), removed with
// everything in it when the object goes. For files another program reads or writes (gnuplot's
// data and charts): no other user can place, swap or link a file in it.
class PrivateDir {
 public:
  explicit PrivateDir(const std::string& parent);
  ~PrivateDir();
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace gradc
