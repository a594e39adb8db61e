#include "runtime/dataset.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "runtime/files.h"

namespace gradc {

namespace {
constexpr size_t kMaxFileBytes = size_t{1} << 30;  // refuse to inflate anything beyond 1 GiB

std::vector<uint8_t> read_all(const std::string& path) {
  const int fd = open_regular(path);  // a FIFO or directory is an error, not a hang
  gzFile f = gzdopen(fd, "rb");       // zlib passes uncompressed files through unchanged
  if (!f) {
    ::close(fd);
    throw DataError("gradc: " + path + ": cannot open");
  }
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    int got = gzread(f, buf, sizeof buf);
    if (got < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw DataError("gradc: " + path + ": corrupt gzip stream after " + std::to_string(out.size()) +
                      " decompressed bytes (" + msg + ")");
    }
    if (got == 0) break;
    out.insert(out.end(), buf, buf + got);
    if (out.size() > kMaxFileBytes) {
      gzclose(f);
      throw DataError("gradc: " + path + ": larger than 1 GiB, refusing to load");
    }
  }
  // zlib reports a gzip stream that ended before its CRC-32 + length trailer only here.
  if (gzclose(f) == Z_BUF_ERROR)
    throw DataError("gradc: " + path + ": gzip stream truncated after " + std::to_string(out.size()) +
                    " decompressed bytes (no CRC-32/length trailer)");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) | b[off + 3];
}

std::string find_file(const std::string& dir, const std::string& base) {
  for (const std::string& p : {dir + "/" + base, dir + "/" + base + ".gz"})
    if (file_kind(p) != "missing") return p;  // a FIFO or directory of that name: read_all names it
  throw DataError("gradc: " + dir + "/" + base + "[.gz]: file not found (run tools/setup.sh to fetch MNIST)");
}
}  // namespace

IdxArray read_idx(const std::string& path) { return parse_idx(read_all(path), path); }

IdxArray parse_idx(const std::vector<uint8_t>& b, const std::string& path) {
  if (b.size() < 4)
    throw DataError("gradc: " + path + ": truncated at byte " + std::to_string(b.size()) +
                    ", expected a 4-byte IDX magic");
  if (b[0] != 0 || b[1] != 0) throw DataError("gradc: " + path + ": bad IDX magic at byte 0 (expected 00 00 08 NN)");
  if (b[2] != 0x08)
    throw DataError("gradc: " + path + ": IDX element type 0x" + std::to_string(b[2]) +
                    " at byte 2 is not unsigned byte (0x08)");
  const int rank = b[3];
  if (rank < 1 || rank > 4)
    throw DataError("gradc: " + path + ": IDX rank " + std::to_string(rank) + " at byte 3 not in 1..4");
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (b.size() < header)
    throw DataError("gradc: " + path + ": truncated header: " + std::to_string(b.size()) + " bytes, need " +
                    std::to_string(header));
  IdxArray a;
  uint64_t total = 1, extent = 1;  // extent: the product with zeros as 1, so [0, 2^32-1] is refused too
  for (int k = 0; k < rank; ++k) {
    uint32_t d = be32(b, 4 + 4 * static_cast<size_t>(k));
    total *= d;
    extent *= std::max<uint64_t>(d, 1);
    if (extent > kMaxFileBytes)
      throw DataError("gradc: " + path + ": dimension " + std::to_string(d) + " at byte " + std::to_string(4 + 4 * k) +
                      " makes the array larger than 1 GiB");
    a.dims.push_back(d);
  }
  if (b.size() - header != total)
    throw DataError("gradc: " + path + ": header promises " + std::to_string(total) + " data bytes after byte " +
                    std::to_string(header) + ", file has " + std::to_string(b.size() - header));
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

Dataset load_idx_pair(const std::string& images, const std::string& labels) {
  IdxArray im = read_idx(images), lb = read_idx(labels);
  if (im.dims.size() < 2) throw DataError("gradc: " + images + ": expected rank >= 2 images");
  if (lb.dims.size() != 1) throw DataError("gradc: " + labels + ": expected rank-1 labels");
  if (im.dims[0] != lb.dims[0])
    throw DataError("gradc: " + images + " has " + std::to_string(im.dims[0]) + " images but " + labels + " has " +
                    std::to_string(lb.dims[0]) + " labels");
  Dataset d;
  d.n = im.dims[0];
  d.source = images;
  d.item_dims.assign(im.dims.begin() + 1, im.dims.end());
  d.features = 1;
  for (int64_t v : d.item_dims) d.features *= v;
  d.x.resize(im.data.size());
  for (size_t i = 0; i < im.data.size(); ++i) d.x[i] = static_cast<float>(im.data[i]) / 255.f;
  d.y.resize(lb.data.size());
  for (size_t i = 0; i < lb.data.size(); ++i) {
    if (lb.data[i] > 9)
      throw DataError("gradc: " + labels + ": label " + std::to_string(lb.data[i]) + " at byte " +
                      std::to_string(8 + i) + " outside 0..9");
    d.y[i] = lb.data[i];
  }
  return d;
}

Dataset load_mnist_dir(const std::string& dir, const std::string& split) {
  const std::string p = split == "test" ? "t10k" : "train";
  if (split != "train" && split != "test") throw DataError("gradc: unknown split '" + split + "' (use train or test)");
  return load_idx_pair(find_file(dir, p + "-images-idx3-ubyte"), find_file(dir, p + "-labels-idx1-ubyte"));
}

Dataset load_csv(const std::string& path) {
  std::vector<uint8_t> raw = read_all(path);
  return parse_csv(std::string(raw.begin(), raw.end()), path);
}

namespace {
// True when `cell` (surrounding spaces allowed) is a whole decimal number: "-1", " 5", "2.5".
bool is_number(const std::string& cell) {
  const char* b = cell.c_str();
  char* end = nullptr;
  std::strtod(b, &end);
  if (end == b) return false;
  while (*end == ' ') ++end;
  return *end == '\0';
}

// Control bytes (NUL included) make a line unreadable as numbers: strtol would stop at a NUL and
// read "\0" as 0. Names line and 1-based byte column.
void check_bytes(const std::string& line, const std::string& path, int64_t lineno) {
  for (size_t i = 0; i < line.size(); ++i)
    if (static_cast<unsigned char>(line[i]) < 0x20 || line[i] == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(line[i]));
      throw DataError("gradc: " + path + ":" + std::to_string(lineno) + ": column " + std::to_string(i + 1) +
                      ": control byte " + hex);
    }
}
}  // namespace

namespace {
std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> cells;
  for (size_t pos = 0;;) {
    const size_t comma = line.find(',', pos);
    cells.push_back(line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) return cells;
    pos = comma + 1;
  }
}

// A header is a first row of the expected width in which no field is a number ("label,pixel0,
// ...,pixel783"). A row with numeric pixels is data whatever its label looks like (empty, blank,
// "5" + a no-break space, a second BOM): it is read, and a bad label is a named error, never a
// silently dropped example.
bool is_header(const std::vector<std::string>& cells) {
  return cells.size() == 785 && std::none_of(cells.begin(), cells.end(), is_number);
}

// One data row: label in 0..9, 784 pixels in 0..255; errors name the line and column.
void add_row(Dataset& d, const std::vector<std::string>& cells, const std::string& where) {
  if (cells.size() != 785)
    throw DataError(where + ": " + std::to_string(cells.size()) + " columns, expected 785 (label + 784 pixels)");
  for (size_t k = 0; k < cells.size(); ++k) {
    char* end = nullptr;
    const long v = std::strtol(cells[k].c_str(), &end, 10);
    if (cells[k].empty() || *end != '\0')
      throw DataError(where + ": column " + std::to_string(k + 1) + " '" + cells[k].substr(0, 20) +
                      "' is not an integer");
    if (k == 0 && (v < 0 || v > 9)) throw DataError(where + ": label " + std::to_string(v) + " outside 0..9");
    if (k > 0 && (v < 0 || v > 255)) throw DataError(where + ": pixel " + std::to_string(v) + " outside 0..255");
    if (k == 0)
      d.y.push_back(static_cast<int32_t>(v));
    else
      d.x.push_back(static_cast<float>(v) / 255.f);
  }
  ++d.n;
}
}  // namespace

Dataset parse_csv(const std::string& text_in, const std::string& path) {
  // A UTF-8 byte-order mark is not part of the first field.
  const bool bom = text_in.size() >= 3 && text_in.compare(0, 3, "\xEF\xBB\xBF") == 0;
  std::istringstream in(bom ? text_in.substr(3) : text_in);
  Dataset d;
  std::string line;
  int64_t lineno = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    check_bytes(line, path, lineno);
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_cells(line);
    if (std::exchange(first, false) && is_header(cells)) {
      d.skipped_header = path + ":" + std::to_string(lineno) + ": a header row (" + line.substr(0, 40) +
                         (line.size() > 40 ? "..." : "") + ")";
      continue;
    }
    add_row(d, cells, "gradc: " + path + ":" + std::to_string(lineno));
  }
  if (d.n == 0) throw DataError("gradc: " + path + ": no data rows");
  d.source = path;
  d.item_dims = {784};
  return d;
}

std::string Dataset::item_shape() const {
  std::string s;
  for (int64_t v : item_dims) s += (s.empty() ? "" : "x") + std::to_string(v);
  return s.empty() ? std::to_string(features) : s;
}

void check_features(const Dataset& d, int64_t features, const std::string& what) {
  if (d.features == features && static_cast<int64_t>(d.x.size()) == d.n * features &&
      static_cast<int64_t>(d.y.size()) == d.n)
    return;
  throw DataError("gradc: " + (d.source.empty() ? std::string("dataset") : d.source) + ": examples are " +
                  d.item_shape() + " = " + std::to_string(d.features) + " values, but " + what + " takes " +
                  std::to_string(features) + " per example");
}

Dataset slice(const Dataset& d, int64_t start, int64_t count) {
  if (start < 0 || count < 0 || start + count > d.n)
    throw DataError("gradc: slice [" + std::to_string(start) + ", " + std::to_string(start + count) +
                    ") outside a dataset of " + std::to_string(d.n));
  Dataset s;
  s.n = count;
  s.features = d.features;
  s.source = d.source;
  s.item_dims = d.item_dims;
  s.x.assign(d.x.begin() + start * d.features, d.x.begin() + (start + count) * d.features);
  s.y.assign(d.y.begin() + start, d.y.begin() + start + count);
  return s;
}

}  // namespace gradc
