#include "compiler/code_cache.h"

#include <fcntl.h>
#include <llvm/Config/llvm-config.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "codegen_id.h"  // generated: GRADC_CODEGEN_ID (cmake/codegen_id.cmake)
#include "compiler/code_key.h"

namespace gradc {

namespace {
constexpr char kMagic[] = "GRADC-CODE-1\n";
constexpr uint64_t kMaxEntry = uint64_t{1} << 30;

std::string& dir_setting() {
  static std::string dir;
  return dir;
}

std::string entry_path(const std::string& key) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.code", static_cast<unsigned long long>(key_hash(key)));
  return code_cache_dir() + "/" + name;
}

// Owned by this user and writable by no one else: otherwise another user could plant code here.
bool private_to_me(const struct stat& st) { return st.st_uid == geteuid() && (st.st_mode & 022) == 0; }

bool usable_dir(const std::string& dir) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (private_to_me(st)) return true;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    std::fprintf(stderr, "gradc: warning: code cache %s is not private to this user; not used\n", dir.c_str());
  return false;
}

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& s, const std::string& v) {
  put_u64(s, v.size());
  s += v;
}

// Reads the fields back, every length checked against what is left.
struct Reader {
  const std::string& s;
  size_t at = 0;
  bool ok = true;
  uint64_t u64() {
    if (s.size() - at < 8) return ok = false, 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    at += 8;
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    if (!ok || n > s.size() - at) return ok = false, std::string();
    std::string v = s.substr(at, n);
    at += n;
    return v;
  }
};

std::string serialise(const std::string& key, const CachedCode& c) {
  std::string s(kMagic);
  put_str(s, key);
  put_str(s, c.prefix);
  put_u64(s, c.objects.size());
  for (const std::string& o : c.objects) put_str(s, o);
  put_u64(s, key_hash(s));
  return s;
}

// What is wrong with an entry's bytes for `key` ("" = nothing: c holds its code).
std::string parse_entry(const std::string& data, const std::string& key, CachedCode& c) {
  if (data.compare(0, sizeof kMagic - 1, kMagic) != 0) return "not a gradc code cache entry";
  Reader r{data};
  r.at = sizeof kMagic - 1;
  const std::string stored_key = r.str();
  c.prefix = r.str();
  const uint64_t n = r.u64();
  for (uint64_t i = 0; r.ok && i < n; ++i) c.objects.push_back(r.str());
  const size_t body = r.at;
  const uint64_t sum = r.u64();
  if (!r.ok || r.at != data.size() || n == 0) return "truncated or malformed";
  if (sum != key_hash(data.substr(0, body))) return "checksum mismatch";
  if (stored_key != key) return "built for another program or build (key differs)";
  return "";
}

// The file's bytes, or nothing if it is absent or not a private regular file of a sane size.
std::optional<std::string> read_entry(const std::string& path, std::string* why) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::string data;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !private_to_me(st) ||
      static_cast<uint64_t>(st.st_size) > kMaxEntry) {
    *why = "not a private regular file of at most 1 GiB";
  } else {
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      const ssize_t r = read(fd, data.data() + got, data.size() - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    if (got != data.size()) *why = "short read";
  }
  close(fd);
  if (!why->empty()) return std::string();
  return data;
}
}  // namespace

void set_code_cache_dir(const std::string& dir) { dir_setting() = dir; }
const std::string& code_cache_dir() { return dir_setting(); }

std::string default_code_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/gradc";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/gradc";
  return "";
}

const std::string& codegen_build_id() {
  static const std::string id = std::string(GRADC_CODEGEN_ID) + " llvm " + LLVM_VERSION_STRING;
  return id;
}

std::optional<CachedCode> load_cached_code(const std::string& key, std::string* warning) {
  if (code_cache_dir().empty() || !usable_dir(code_cache_dir())) return std::nullopt;
  const std::string path = entry_path(key);
  std::string why;
  const std::optional<std::string> data = read_entry(path, &why);
  if (!data) return std::nullopt;  // absent: the common miss, nothing to say
  CachedCode c;
  if (why.empty()) why = parse_entry(*data, key, c);
  if (why.empty()) return c;
  *warning = "gradc: warning: code cache entry " + path + " is unusable (" + why + "); recompiling";
  return std::nullopt;
}

void store_cached_code(const std::string& key, const CachedCode& code) {
  const std::string& dir = code_cache_dir();
  if (dir.empty()) return;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return;
    chmod(dir.c_str(), 0700);
  }
  if (!usable_dir(dir)) return;
  static std::atomic<unsigned> counter{0};
  const std::string path = entry_path(key);
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  const std::string data = serialise(key, code);
  size_t put = 0;
  while (put < data.size()) {
    const ssize_t w = write(fd, data.data() + put, data.size() - put);
    if (w <= 0) break;
    put += static_cast<size_t>(w);
  }
  const bool ok = close(fd) == 0 && put == data.size();
  // rename() replaces atomically: a reader sees the old entry or the new one, never a mix.
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) unlink(tmp.c_str());
}

}  // namespace gradc
