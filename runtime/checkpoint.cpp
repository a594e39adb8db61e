#include "runtime/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/dataset.h"
#include "runtime/files.h"

namespace gradc {

namespace {
constexpr uint64_t kMaxHeader = 100u << 20;  // safetensors' own limit is 100 MB

void write_all(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) throw std::runtime_error("gradc: writing " + path + ": " + std::strerror(errno));
    c += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError("gradc: " + path + ": " + what);
}
}  // namespace

const NamedTensor* Checkpoint::find(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  nlohmann::ordered_json h;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : c.metadata) meta[k] = v;
  h["__metadata__"] = meta;
  uint64_t off = 0;
  for (const NamedTensor& t : c.tensors) {
    if (static_cast<int64_t>(t.data.size()) != t.shape.numel())  // the loader would reject the file
      throw std::invalid_argument("gradc: " + path + ": tensor '" + t.name + "' has " + std::to_string(t.data.size()) +
                                  " values for shape " + t.shape.str() + " (" + std::to_string(t.shape.numel()) +
                                  "); nothing written");
    std::vector<int64_t> dims(t.shape.d.begin(), t.shape.d.begin() + t.shape.rank);
    const uint64_t bytes = t.data.size() * 4;
    h[t.name] = {{"dtype", "F32"}, {"shape", dims}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string header = h.dump();
  while ((header.size() + 8) % 8) header += ' ';  // align the data section to 8 bytes
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  // A temp name of this writer's own (pid + counter): two trainers sharing a directory never
  // collide on it; O_EXCL refuses to reuse a leftover.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = (dir / ("." + target.filename().string() + "." + std::to_string(::getpid()) + "." +
                                  std::to_string(counter++) + ".tmp"))
                              .string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("gradc: cannot create " + tmp + ": " + std::strerror(errno));
  try {
    uint64_t n = header.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    write_all(fd, len, 8, tmp);
    write_all(fd, header.data(), header.size(), tmp);
    for (const NamedTensor& t : c.tensors) write_all(fd, t.data.data(), t.data.size() * 4, tmp);
    if (::fsync(fd) != 0) throw std::runtime_error("gradc: fsync " + tmp + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(tmp);
    throw;
  }
  ::close(fd);
  std::filesystem::rename(tmp, path);  // atomic on POSIX: readers see the old or the new file
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(read_regular(path, size_t{4} << 30), path);  // regular files only: no FIFO hang
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
  const uint64_t size = bytes.size();
  if (size < 8) bad(path, "truncated at byte " + std::to_string(size) + ", expected an 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(i)])) << (8 * i);
  if (n > kMaxHeader || n > size - 8)
    bad(path,
        "header length " + std::to_string(n) + " at byte 0 exceeds the file (" + std::to_string(size) + " bytes)");
  const std::string header = bytes.substr(8, n);
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    bad(path, std::string("header JSON (bytes 8..") + std::to_string(8 + n) + ") is invalid: " + e.what());
  }
  if (!h.is_object()) bad(path, "header is not a JSON object");
  const uint64_t data_size = size - 8 - n;
  Checkpoint c;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& [key, v] : h.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) bad(path, "__metadata__ is not an object");
      for (auto& [mk, mv] : v.items())
        if (mv.is_string()) c.metadata[mk] = mv.get<std::string>();
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad(path, "tensor '" + key + "' lacks dtype/shape/data_offsets");
    if (v["dtype"] != "F32")
      bad(path, "tensor '" + key + "' has dtype " + v["dtype"].dump() + ", only F32 is supported");
    const auto& shape = v["shape"];
    const auto& offs = v["data_offsets"];
    if (!shape.is_array() || shape.size() > 4 || !offs.is_array() || offs.size() != 2 ||
        !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      bad(path, "tensor '" + key + "' has a malformed shape or data_offsets");
    NamedTensor t;
    t.name = key;
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) bad(path, "tensor '" + key + "' has a non-integer dimension");
      const auto dv = d.get<uint64_t>();
      if (dv > (1u << 30) || (numel *= dv) > (1u << 30)) bad(path, "tensor '" + key + "' is implausibly large");
      t.shape.d[static_cast<size_t>(t.shape.rank++)] = static_cast<int64_t>(dv);
    }
    const auto b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (b > e || e > data_size || e - b != numel * 4)
      bad(path, "tensor '" + key + "' data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                    ") do not match its shape or the " + std::to_string(data_size) + " data bytes");
    t.data.resize(numel);
    if (numel) std::memcpy(t.data.data(), bytes.data() + 8 + n + b, numel * 4);
    ranges.emplace_back(b, e);
    c.tensors.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) bad(path, "tensor data ranges overlap");
  return c;
}

}  // namespace gradc
