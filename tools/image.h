// RGB images for reports: PNG I/O through libpng, weight/digit grids, a digit glyph font.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/dataset.h"

namespace gradc::cli {

struct Image {
  int w = 0, h = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
  Image(int width, int height, uint8_t fill = 255)
      : w(width), h(height), rgb(static_cast<size_t>(width * height * 3), fill) {}
  void set(int x, int y, uint8_t r, uint8_t g, uint8_t b);
  const uint8_t* at(int x, int y) const { return &rgb[static_cast<size_t>((y * w + x) * 3)]; }
};

void write_png(const std::string& path, const Image& img);  // throws naming the file
// The bytes of the PNG file `path` (a regular file of at most 256 MiB), its chunk structure walked
// first: every chunk's declared length must fit in the file, so libpng never allocates more than
// the file holds (a 56-byte file declaring a 2 GiB tEXt chunk). Throws DataError naming the file.
std::string read_png_bytes(const std::string& path);
Image read_png(const std::string& path);  // any PNG, as RGB8

// First-layer weights as tiles: [784, units] -> one 28×28 tile per unit; HWIO conv filters ->
// one KH×KW tile per output channel (input channel 0). Diverging colours, symmetric in ±max|w|:
// blue negative, white zero, red positive. Each weight is a scale×scale block; tiles are laid
// out row-major, `cols` per row, 1-pixel grey separators.
// The same layout as values: one tile per unit, 1-value NaN separators and border, row-major w×h.
struct WeightTiles {
  int w = 0, h = 0, tile_w = 0, tile_h = 0, cols = 0, rows = 0, units = 0;
  float max_abs = 0;
  std::vector<float> v;
};
WeightTiles weight_tiles(const NamedTensor& w);
struct WeightGrid {
  Image image;
  int tile_w, tile_h, cols, scale;
};
WeightGrid weight_grid(const NamedTensor& w, int scale = 2);
// The parameter a weight grid shows: the first rank-2 matrix with 784 rows, else the first rank-4 filter.
const NamedTensor* first_layer(const std::vector<NamedTensor>& params);

// n digits from d in a grid, each with its label drawn underneath.
Image digit_grid(const Dataset& d, int n, int cols, int scale = 2);
// The digits d.x[idx[i]] in a grid, each with its label (dark) and `predicted[i]` (red) underneath.
Image mistake_grid(const Dataset& d, const std::vector<int64_t>& idx, const std::vector<int>& predicted, int cols,
                   int scale = 2);
void draw_digit_glyph(Image& img, int x, int y, int digit, int scale, uint8_t r, uint8_t g, uint8_t b);

}  // namespace gradc::cli
