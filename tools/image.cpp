#include "tools/image.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "runtime/data_error.h"
#include "runtime/files.h"

namespace gradc::cli {

void Image::set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
  p[0] = r;
  p[1] = g;
  p[2] = b;
}

namespace {
void append_png_bytes(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void no_flush(png_structp) {}

// Encodes `img` into *out; false if libpng fails. The setjmp frame holds only libpng's handles,
// assigned before it: the bytes live in the caller's string.
bool encode_png(const Image& img, std::string* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, append_png_bytes, no_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.w), static_cast<png_uint_32>(img.h), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < img.h; ++y) png_write_row(png, const_cast<png_bytep>(img.at(0, y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}
}  // namespace

void write_png(const std::string& path, const Image& img) {
  std::string bytes;
  if (!encode_png(img, &bytes)) throw std::runtime_error("gradc: libpng failed encoding " + path);
  write_file(path, bytes);  // atomic, never through a planted link
}

std::string read_png_bytes(const std::string& path) {
  std::string bytes = read_regular(path, size_t{256} << 20);  // never blocks on a FIFO
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 8 || bytes.compare(0, 8, kSignature, 8) != 0)
    throw DataError("gradc: " + path + ": not a readable PNG (no PNG signature)");
  for (size_t at = 8; at < bytes.size();) {  // chunk: u32 length, 4-byte type, data, u32 CRC
    if (bytes.size() - at < 12)
      throw DataError("gradc: " + path + ": not a readable PNG (cut off at byte " + std::to_string(at) + ")");
    uint64_t len = 0;
    for (size_t k = 0; k < 4; ++k) len = len << 8 | static_cast<unsigned char>(bytes[at + k]);
    std::string type = bytes.substr(at + 4, 4);
    for (char& ch : type)
      if (!std::isalpha(static_cast<unsigned char>(ch))) ch = '?';  // a name for the message, not bytes
    if (len > bytes.size() - at - 12)
      throw DataError("gradc: " + path + ": not a readable PNG (chunk '" + type + "' at byte " + std::to_string(at) +
                      " declares " + std::to_string(len) + " bytes, the file has " +
                      std::to_string(bytes.size() - at - 12) + " after it)");
    at += 12 + len;
    if (type == "IEND") break;
  }
  return bytes;
}

Image read_png(const std::string& path) {
  const std::string bytes = read_png_bytes(path);
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    throw std::runtime_error("gradc: " + path + " is not a valid PNG (" + img.message + ")");
  if (static_cast<uint64_t>(img.width) * img.height > 100'000'000) {
    png_image_free(&img);
    throw std::runtime_error("gradc: " + path + ": a " + std::to_string(img.width) + "×" + std::to_string(img.height) +
                             " PNG is too large");
  }
  img.format = PNG_FORMAT_RGB;
  Image out(static_cast<int>(img.width), static_cast<int>(img.height));
  if (!png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr))
    throw std::runtime_error("gradc: " + path + " is not a valid PNG (" + img.message + ")");
  return out;
}

const NamedTensor* first_layer(const std::vector<NamedTensor>& params) {
  for (const NamedTensor& t : params)
    if (t.shape.rank == 2 && t.shape[0] == 784) return &t;
  for (const NamedTensor& t : params)
    if (t.shape.rank == 4) return &t;
  return nullptr;
}

WeightTiles weight_tiles(const NamedTensor& w) {
  WeightTiles t;
  int units;
  if (w.shape.rank == 2 && w.shape[0] == 784) {
    t.tile_w = t.tile_h = 28;
    units = static_cast<int>(w.shape[1]);
  } else if (w.shape.rank == 4) {
    t.tile_h = static_cast<int>(w.shape[0]);
    t.tile_w = static_cast<int>(w.shape[1]);
    units = static_cast<int>(w.shape[3]);
  } else {
    throw std::invalid_argument("gradc: weight grid needs [784, units] or HWIO weights, got " + w.shape.str());
  }
  t.units = units;
  t.cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(units))));
  t.rows = (units + t.cols - 1) / t.cols;
  t.w = t.cols * (t.tile_w + 1) + 1;
  t.h = t.rows * (t.tile_h + 1) + 1;
  t.v.assign(static_cast<size_t>(t.w * t.h), std::numeric_limits<float>::quiet_NaN());
  for (float v : w.data) t.max_abs = std::max(t.max_abs, std::fabs(v));
  for (int u = 0; u < units; ++u) {
    const int ox = (u % t.cols) * (t.tile_w + 1) + 1, oy = (u / t.cols) * (t.tile_h + 1) + 1;
    for (int py = 0; py < t.tile_h; ++py)
      for (int px = 0; px < t.tile_w; ++px) {
        // [784, units]: pixel index py·28+px; HWIO: ((py·KW + px)·C + 0)·F + u.
        const size_t idx = w.shape.rank == 2 ? static_cast<size_t>((py * 28 + px) * units + u)
                                             : static_cast<size_t>(((py * t.tile_w + px) * w.shape[2]) * units + u);
        t.v[static_cast<size_t>((oy + py) * t.w + ox + px)] = w.data[idx];
      }
  }
  return t;
}

WeightGrid weight_grid(const NamedTensor& w, int scale) {
  const WeightTiles t = weight_tiles(w);
  if (w.shape.rank == 4) scale = std::max(scale, 56 / std::max(t.tile_w, t.tile_h));
  // Tile pixels become scale×scale blocks; the 1-pixel grey separators stay 1 pixel wide.
  const int cw = t.tile_w * scale + 1, chh = t.tile_h * scale + 1;
  WeightGrid g{Image(t.cols * cw + 1, t.rows * chh + 1, 160), t.tile_w, t.tile_h, t.cols, scale};
  const float mx = std::max(t.max_abs, 1e-12f);
  for (int u = 0; u < t.units; ++u)
    for (int py = 0; py < t.tile_h; ++py)
      for (int px = 0; px < t.tile_w; ++px) {
        const int tx = (u % t.cols) * (t.tile_w + 1) + 1 + px, ty = (u / t.cols) * (t.tile_h + 1) + 1 + py;
        const float v = std::clamp(t.v[static_cast<size_t>(ty * t.w + tx)] / mx, -1.f, 1.f);
        const auto r = static_cast<uint8_t>(v > 0 ? 255 : 255 * (1 + v));
        const auto gg = static_cast<uint8_t>(255 * (1 - std::fabs(v)));
        const auto b = static_cast<uint8_t>(v < 0 ? 255 : 255 * (1 - v));
        const int ox = (u % t.cols) * cw + 1 + px * scale, oy = (u / t.cols) * chh + 1 + py * scale;
        for (int sy = 0; sy < scale; ++sy)
          for (int sx = 0; sx < scale; ++sx) g.image.set(ox + sx, oy + sy, r, gg, b);
      }
  return g;
}

// 3×5 bitmaps of the digits 0-9, one row per 3 bits (MSB = left).
void draw_digit_glyph(Image& img, int x, int y, int digit, int scale, uint8_t r, uint8_t g, uint8_t b) {
  static const uint8_t kFont[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                       {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 2, 2, 2},
                                       {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  for (int row = 0; row < 5; ++row)
    for (int col = 0; col < 3; ++col)
      if (kFont[digit][row] & (4 >> col))
        for (int sy = 0; sy < scale; ++sy)
          for (int sx = 0; sx < scale; ++sx) img.set(x + col * scale + sx, y + row * scale + sy, r, g, b);
}

namespace {
void draw_digit(Image& img, const Dataset& d, int64_t i, int ox, int oy, int scale) {
  for (int py = 0; py < 28; ++py)
    for (int px = 0; px < 28; ++px) {
      const auto v = static_cast<uint8_t>(255 - 255 * d.x[static_cast<size_t>(i * 784 + py * 28 + px)]);
      for (int sy = 0; sy < scale; ++sy)
        for (int sx = 0; sx < scale; ++sx) img.set(ox + px * scale + sx, oy + py * scale + sy, v, v, v);
    }
}
}  // namespace

Image mistake_grid(const Dataset& d, const std::vector<int64_t>& idx, const std::vector<int>& predicted, int cols,
                   int scale) {
  const int g = std::max(2, scale);  // glyph scale: 3×5 glyphs, legible beside a scaled digit
  const int n = static_cast<int>(idx.size()), rows = (n + cols - 1) / cols;
  const int cw = 28 * scale + 8, ch = 28 * scale + 5 * g + 10;
  Image img(std::max(1, cols * cw), std::max(1, rows * ch), 255);
  for (int i = 0; i < n; ++i) {
    const int ox = (i % cols) * cw + 4, oy = (i / cols) * ch + 2;
    draw_digit(img, d, idx[static_cast<size_t>(i)], ox, oy, scale);
    const int mid = ox + 28 * scale / 2;
    draw_digit_glyph(img, mid - 4 * g - 2, oy + 28 * scale + 4, d.y[static_cast<size_t>(idx[static_cast<size_t>(i)])],
                     g, 40, 40, 40);
    draw_digit_glyph(img, mid + g + 2, oy + 28 * scale + 4, predicted[static_cast<size_t>(i)], g, 200, 30, 30);
  }
  return img;
}

Image digit_grid(const Dataset& d, int n, int cols, int scale) {
  n = static_cast<int>(std::min<int64_t>(n, d.n));
  const int rows = (n + cols - 1) / cols;
  const int cw = 28 * scale + 4, ch = 28 * scale + 5 * 2 + 8;
  Image img(cols * cw, rows * ch, 255);
  for (int i = 0; i < n; ++i) {
    const int ox = (i % cols) * cw + 2, oy = (i / cols) * ch + 2;
    for (int py = 0; py < 28; ++py)
      for (int px = 0; px < 28; ++px) {
        const auto v = static_cast<uint8_t>(255 - 255 * d.x[static_cast<size_t>(i * 784 + py * 28 + px)]);
        for (int sy = 0; sy < scale; ++sy)
          for (int sx = 0; sx < scale; ++sx) img.set(ox + px * scale + sx, oy + py * scale + sy, v, v, v);
      }
    draw_digit_glyph(img, ox + 28 * scale / 2 - 3, oy + 28 * scale + 3, d.y[static_cast<size_t>(i)], 2, 200, 30, 30);
  }
  return img;
}

}  // namespace gradc::cli
