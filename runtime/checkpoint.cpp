#include "runtime/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "runtime/dataset.h"
#include "runtime/files.h"

namespace gradc {

namespace {
constexpr uint64_t kMaxHeader = 100u << 20;  // safetensors' own limit is 100 MB

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
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
  std::vector<std::string_view> pieces = {{len, 8}, header};
  for (const NamedTensor& t : c.tensors)
    pieces.emplace_back(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  write_file(path, pieces, /*durable=*/true);  // temp file, fsync, rename, fsync of the directory
}

namespace {
constexpr uint64_t kMaxData = uint64_t{4} << 30;  // 4 GiB of tensors: far beyond any model here

// `start`: the file's first (up to 24) bytes. A length that does not fit is a truncated checkpoint
// when its JSON header starts at byte 8, and no checkpoint at all otherwise (said with its first
// bytes, as text).
uint64_t header_length(const std::string& start, uint64_t size, const std::string& path) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<uint64_t>(static_cast<unsigned char>(start[static_cast<size_t>(i)])) << (8 * i);
  if (n <= kMaxHeader && n <= size - 8) return n;
  if (start.size() > 8 && start[8] != '{') {
    std::string shown;
    for (char c : start.substr(0, 16)) shown += (c >= 0x20 && c < 0x7f) ? c : '.';
    bad(path, "is not a safetensors checkpoint (no JSON header at byte 8; it starts \"" + shown + "\")");
  }
  bad(path, "header length " + std::to_string(n) + " at byte 0 exceeds the file (" + std::to_string(size) + " bytes)");
}

// One tensor's entry: name, shape, and its byte range [begin, end) in the data section.
struct Entry {
  NamedTensor t;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& key, const nlohmann::json& v, uint64_t data_size, const std::string& path) {
  if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
    bad(path, "tensor '" + key + "' lacks dtype/shape/data_offsets");
  if (v["dtype"] != "F32") bad(path, "tensor '" + key + "' has dtype " + v["dtype"].dump() + ", only F32 is supported");
  const auto& shape = v["shape"];
  const auto& offs = v["data_offsets"];
  if (!shape.is_array() || shape.size() > 4 || !offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
      !offs[1].is_number_unsigned())
    bad(path, "tensor '" + key + "' has a malformed shape or data_offsets");
  Entry e;
  e.t.name = key;
  uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) bad(path, "tensor '" + key + "' has a non-integer dimension");
    const auto dv = d.get<uint64_t>();
    if (dv > (1u << 30) || (numel *= dv) > (1u << 30)) bad(path, "tensor '" + key + "' is implausibly large");
    e.t.shape.d[static_cast<size_t>(e.t.shape.rank++)] = static_cast<int64_t>(dv);
  }
  e.begin = offs[0].get<uint64_t>(), e.end = offs[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size || e.end - e.begin != numel * 4)
    bad(path, "tensor '" + key + "' data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  ") do not match its shape or the " + std::to_string(data_size) + " data bytes");
  return e;
}

// The header's metadata and tensor entries, checked against the data section's size before any
// tensor memory is allocated: the ranges must tile the data section exactly (safetensors' rule:
// no overlaps, no holes), so a crafted header cannot make the loader allocate or read more than
// the file holds.
std::vector<Entry> parse_header(const std::string& header, uint64_t data_size, const std::string& path,
                                std::map<std::string, std::string>& metadata) {
  if (data_size > kMaxData)
    bad(path, "holds " + std::to_string(data_size >> 20) + " MiB of tensor data, more than the " +
                  std::to_string(kMaxData >> 20) + " MiB gradc loads");
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    bad(path, std::string("header JSON (bytes 8..") + std::to_string(8 + header.size()) + ") is invalid: " + e.what());
  }
  if (!h.is_object()) bad(path, "header is not a JSON object");
  std::vector<Entry> entries;
  for (auto& [key, v] : h.items()) {
    if (key != "__metadata__") {
      entries.push_back(parse_entry(key, v, data_size, path));
      continue;
    }
    if (!v.is_object()) bad(path, "__metadata__ is not an object");
    for (auto& [mk, mv] : v.items())
      if (mv.is_string()) metadata[mk] = mv.get<std::string>();
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Entry& e : entries) ranges.emplace_back(e.begin, e.end);
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [b, e] : ranges) {
    if (b < covered) bad(path, "tensor data ranges overlap");
    if (b > covered) bad(path, "no tensor covers data bytes " + std::to_string(covered) + ".." + std::to_string(b));
    covered = e;
  }
  if (covered != data_size)
    bad(path, "the tensors cover " + std::to_string(covered) + " of its " + std::to_string(data_size) +
                  " data bytes (safetensors allows no unindexed bytes)");
  return entries;
}

// Reads each entry's bytes with `read(offset_in_data, destination, bytes)` into the checkpoint.
template <class Read>
Checkpoint fill(std::vector<Entry> entries, std::map<std::string, std::string> metadata, Read read) {
  Checkpoint c;
  c.metadata = std::move(metadata);
  c.tensors.reserve(entries.size());
  for (Entry& e : entries) {
    e.t.data.resize((e.end - e.begin) / 4);
    if (e.end > e.begin) read(e.begin, e.t.data.data(), e.end - e.begin);
    c.tensors.push_back(std::move(e.t));
  }
  return c;
}
}  // namespace

// The header first, from a file opened once (regular files only: no FIFO hang); tensor data only
// after the header checked out against the file's size.
Checkpoint load_checkpoint(const std::string& path) {
  const RegularFile f(path);
  if (f.size() < 8) bad(path, "truncated at byte " + std::to_string(f.size()) + ", expected an 8-byte header length");
  const uint64_t n = header_length(f.read(0, std::min<uint64_t>(f.size(), 24)), f.size(), path);
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries = parse_header(f.read(8, n), f.size() - 8 - n, path, metadata);
  return fill(std::move(entries), std::move(metadata),
              [&](uint64_t at, float* out, uint64_t bytes) { f.read(8 + n + at, out, bytes); });
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
  const uint64_t size = bytes.size();
  if (size < 8) bad(path, "truncated at byte " + std::to_string(size) + ", expected an 8-byte header length");
  const uint64_t n = header_length(bytes.substr(0, 24), size, path);
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries = parse_header(bytes.substr(8, n), size - 8 - n, path, metadata);
  return fill(std::move(entries), std::move(metadata),
              [&](uint64_t at, float* out, uint64_t len) { std::memcpy(out, bytes.data() + 8 + n + at, len); });
}

}  // namespace gradc
