#include "tools/digit_image.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/dataset.h"
#include "runtime/files.h"
#include "tools/image.h"

namespace gradc::cli {

namespace {
constexpr int kMaxSide = 10000;

float median(std::vector<float> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Area-averaged resampling of the box [x0,x1)×[y0,y1) of `g` to w×h.
std::vector<float> resample(const Gray& g, int x0, int y0, int x1, int y1, int w, int h) {
  std::vector<float> out(static_cast<size_t>(w * h), 0.f);
  const double sx = static_cast<double>(x1 - x0) / w, sy = static_cast<double>(y1 - y0) / h;
  for (int oy = 0; oy < h; ++oy)
    for (int ox = 0; ox < w; ++ox) {
      const double ax = x0 + ox * sx, bx = ax + sx, ay = y0 + oy * sy, by = ay + sy;
      double sum = 0, area = 0;
      for (auto y = static_cast<int>(ay); y < std::min<double>(by, y1); ++y) {
        const double hy = std::min<double>(by, y + 1) - std::max<double>(ay, y);
        for (auto x = static_cast<int>(ax); x < std::min<double>(bx, x1); ++x) {
          const double wx = std::min<double>(bx, x + 1) - std::max<double>(ax, x);
          sum += wx * hy * g.v[static_cast<size_t>(y) * static_cast<size_t>(g.w) + static_cast<size_t>(x)];
          area += wx * hy;
        }
      }
      out[static_cast<size_t>(oy * w + ox)] = area > 0 ? static_cast<float>(sum / area) : 0.f;
    }
  return out;
}
}  // namespace

Gray read_gray_png(const std::string& path) {
  const std::string bytes = read_png_bytes(path);
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    throw DataError("gradc: " + path + ": not a readable PNG (" + img.message + ")");
  if (img.width == 0 || img.height == 0 || img.width > kMaxSide || img.height > kMaxSide) {
    png_image_free(&img);
    throw DataError("gradc: " + path + ": a " + std::to_string(img.width) + "×" + std::to_string(img.height) +
                    " PNG; digits up to " + std::to_string(kMaxSide) + "×" + std::to_string(kMaxSide) + " are read");
  }
  img.format = PNG_FORMAT_GA;
  std::vector<png_byte> ga(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, ga.data(), 0, nullptr))
    throw DataError("gradc: " + path + ": not a readable PNG (" + img.message + ")");
  Gray g{static_cast<int>(img.width), static_cast<int>(img.height), {}};
  const size_t n = static_cast<size_t>(g.w) * static_cast<size_t>(g.h);
  // Composite onto the background the strokes are not: the mean of the opaque pixels decides.
  double opaque_sum = 0, opaque_n = 0;
  for (size_t i = 0; i < n; ++i)
    if (ga[2 * i + 1] >= 128) opaque_sum += ga[2 * i] / 255.0, opaque_n += 1;
  const float bg = opaque_n > 0 && opaque_sum / opaque_n > 0.5 ? 0.f : 1.f;
  g.v.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float a = ga[2 * i + 1] / 255.f;
    g.v[i] = a * (ga[2 * i] / 255.f) + (1 - a) * bg;
  }
  return g;
}

std::vector<float> mnist_digit(const Gray& g, const std::string& what) {
  // Ink bright on black: the border's median says what the background is.
  std::vector<float> border;
  for (int x = 0; x < g.w; ++x)
    border.push_back(g.v[static_cast<size_t>(x)]), border.push_back(g.v[static_cast<size_t>((g.h - 1) * g.w + x)]);
  for (int y = 0; y < g.h; ++y)
    border.push_back(g.v[static_cast<size_t>(y * g.w)]), border.push_back(g.v[static_cast<size_t>(y * g.w + g.w - 1)]);
  const bool invert = median(border) > 0.5f;
  Gray ink = g;
  for (float& v : ink.v) v = invert ? 1 - v : v;
  const float bg = invert ? 1 - median(border) : median(border);
  const float top = *std::max_element(ink.v.begin(), ink.v.end());
  if (top - bg < 0.2f) throw DataError("gradc: " + what + ": no digit found (nothing stands out from the background)");
  for (float& v : ink.v) v = std::clamp((v - bg) / (top - bg), 0.f, 1.f);
  // The ink's bounding box (pixels at least 10% of the brightest).
  int x0 = g.w, y0 = g.h, x1 = -1, y1 = -1;
  for (int y = 0; y < g.h; ++y)
    for (int x = 0; x < g.w; ++x)
      if (ink.v[static_cast<size_t>(y) * static_cast<size_t>(g.w) + static_cast<size_t>(x)] >= 0.1f)
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
  const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  // Into 20×20 keeping the aspect ratio.
  const double scale = 20.0 / std::max(bw, bh);
  const int w = std::clamp(static_cast<int>(std::lround(bw * scale)), 1, 20);
  const int h = std::clamp(static_cast<int>(std::lround(bh * scale)), 1, 20);
  const std::vector<float> small = resample(ink, x0, y0, x1 + 1, y1 + 1, w, h);
  // Centre of mass to pixel (14, 14) by a whole-pixel shift: MNIST digits have theirs in [13.5, 14.5].
  double m = 0, cx = 0, cy = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double v = small[static_cast<size_t>(y * w + x)];
      m += v, cx += v * x, cy += v * y;
    }
  const int ox = static_cast<int>(std::lround(14.0 - cx / m)), oy = static_cast<int>(std::lround(14.0 - cy / m));
  std::vector<float> out(784, 0.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int tx = x + ox, ty = y + oy;
      if (tx >= 0 && tx < 28 && ty >= 0 && ty < 28)
        out[static_cast<size_t>(ty * 28 + tx)] = small[static_cast<size_t>(y * w + x)];
    }
  return out;
}

}  // namespace gradc::cli
