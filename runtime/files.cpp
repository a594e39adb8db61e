#include "runtime/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "runtime/data_error.h"

namespace gradc {

namespace {
std::string kind_of(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "not a regular file";
}
}  // namespace

std::string file_kind(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? kind_of(st.st_mode) : "missing";
}

void check_output_file(const std::string& path, const std::string& what) {
  if (path.empty() || path.back() == '/')
    throw DataError("gradc: " + what + " '" + path + "': names a directory, not a file");
  const std::string kind = file_kind(path);
  if (kind != "missing" && kind != "a regular file")
    throw DataError("gradc: " + what + " " + path + ": is " + kind + ", not a regular file");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && file_kind(parent.string()) != "a directory")
    throw DataError("gradc: " + what + " " + path + ": directory " + parent.string() + " does not exist");
}

void make_dirs(const std::string& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw DataError("gradc: " + what + " " + dir +
                    ": cannot create directory: " + (ec ? ec.message() : file_kind(dir) + " of that name exists"));
}

int open_regular(const std::string& path) {
  // O_NONBLOCK: opening a FIFO without a writer must not wait; fstat then tells what it is.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw DataError("gradc: " + path + ": " + (err == ENOENT ? std::string("file not found") : std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string what = kind_of(st.st_mode);
    ::close(fd);
    throw DataError("gradc: " + path + ": is " + what + ", not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

RegularFile::RegularFile(const std::string& path) : path_(path), fd_(open_regular(path)) {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw DataError("gradc: " + path + ": " + std::strerror(err));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

RegularFile::~RegularFile() { ::close(fd_); }

void RegularFile::read(uint64_t offset, void* out, size_t n) const {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw DataError("gradc: " + path_ + ": read error: " + std::strerror(errno));
    if (got == 0) throw DataError("gradc: " + path_ + ": ends at byte " + std::to_string(offset) + " (it shrank?)");
    p += got, offset += static_cast<uint64_t>(got), n -= static_cast<size_t>(got);
  }
}

std::string RegularFile::read(uint64_t offset, size_t n) const {
  std::string s(n, '\0');
  read(offset, s.data(), n);
  return s;
}

std::string read_regular(const std::string& path, size_t max_bytes) {
  const int fd = open_regular(path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw DataError("gradc: " + path + ": read error: " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      throw DataError("gradc: " + path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB, refusing to load");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace gradc

namespace gradc {

namespace {
// 0, or the errno of the first failing call (the partial file removed). `durable`: fsync before
// closing, so that a rename over an older file never exposes an empty one after a crash.
int try_create(const std::string& path, const std::vector<std::string_view>& pieces, bool durable) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  for (std::string_view piece : pieces)
    for (size_t done = 0; done < piece.size() && !err;) {
      const ssize_t n = ::write(fd, piece.data() + done, piece.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        err = n < 0 ? errno : EIO;
      else
        done += static_cast<size_t>(n);
    }
  if (durable && !err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) ::unlink(path.c_str());
  return err;
}

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};  // concurrent writers each draw their own
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i) s += kChars[rng() % (sizeof kChars - 1)];
  return s;
}
}  // namespace

void write_new_file(const std::string& path, std::string_view content) {
  if (const int err = try_create(path, {content}, false))
    throw DataError("gradc: cannot create " + path + ": " + std::strerror(err));
}

void write_file(const std::string& path, std::string_view content) { write_file(path, {content}, false); }

void write_file(const std::string& path, const std::vector<std::string_view>& pieces, bool durable) {
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  std::string tmp;
  for (int attempt = 0;; ++attempt) {  // a name someone else took (EEXIST): draw another
    tmp = dir + "/." + p.filename().string() + "." + random_suffix() + ".tmp";
    const int err = try_create(tmp, pieces, durable);
    if (!err) break;
    if (err != EEXIST || attempt == 8) throw DataError("gradc: cannot write " + path + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw DataError("gradc: cannot write " + path + ": " + std::strerror(err));
  }
  if (!durable) return;
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {  // the rename itself
    ::fsync(dfd);
    ::close(dfd);
  }
}

namespace {
struct HeldLock {
  int fd = -1, count = 0;
  pid_t pid = 0;  // a forked child inherits the map, not the right to re-enter
};
std::mutex held_mu;
std::map<std::pair<uint64_t, uint64_t>, HeldLock>& held_locks() {  // by the lock file's (device, inode)
  static std::map<std::pair<uint64_t, uint64_t>, HeldLock> m;
  return m;
}
}  // namespace

DirLock::DirLock(const std::string& dir, const std::string& what) {
  const std::string path = dir + "/.gradc.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    throw DataError("gradc: " + what + " " + dir + ": cannot create its lock file " + path + ": " +
                    (fd >= 0 ? "not a regular file" : std::strerror(err)));
  }
  dev_ = static_cast<uint64_t>(st.st_dev), ino_ = static_cast<uint64_t>(st.st_ino);
  std::lock_guard<std::mutex> lock(held_mu);
  HeldLock& h = held_locks()[{dev_, ino_}];
  if (h.count > 0 && h.pid == ::getpid()) {  // this process holds it already
    ::close(fd);
    ++h.count;
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    held_locks().erase({dev_, ino_});
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw DataError("gradc: " + what + " " + dir + ": another gradc run" +
                    (holder.empty() ? std::string() : " (pid " + holder + ")") +
                    " is writing into this directory; wait for it or choose another directory");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  // The pid is only for a second run's message: a failed write loses nothing else.
  const bool wrote =
      ::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) == static_cast<ssize_t>(me.size());
  (void)wrote;
  h = {fd, 1, ::getpid()};
}

DirLock::~DirLock() {
  std::lock_guard<std::mutex> lock(held_mu);
  auto it = held_locks().find({dev_, ino_});
  if (it == held_locks().end() || --it->second.count > 0) return;
  ::close(it->second.fd);  // releases the flock
  held_locks().erase(it);
}

PrivateDir::PrivateDir(const std::string& parent) {
  std::string templ = (parent.empty() ? std::string(".") : parent) + "/.gradc-XXXXXX";
  if (!::mkdtemp(templ.data()))
    throw DataError("gradc: cannot create a private directory in " + parent + ": " + std::strerror(errno));
  path_ = templ;
}

PrivateDir::~PrivateDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // removes links themselves, never what they point at
}

}  // namespace gradc
