// The user's own digit picture as MNIST input: any PNG (any size; gray, RGB, palette, alpha, 16-bit;
// dark on light or light on dark) made into a 28×28 image the way MNIST's were made.
#pragma once
#include <string>
#include <vector>

namespace gradc::cli {

// Grayscale, row-major, 0 = black, 1 = white.
struct Gray {
  int w = 0, h = 0;
  std::vector<float> v;
};

// Reads any PNG (alpha composited onto the background opposite to its strokes); throws DataError
// naming the file when it is not a readable PNG or larger than 10000×10000.
Gray read_gray_png(const std::string& path);

// MNIST's preprocessing: ink is bright on black (a light background is inverted, then the
// background level subtracted and the ink stretched to [0, 1]); the ink's bounding box is scaled
// into 20×20 keeping its aspect ratio (area averaging), then placed in 28×28 with its centre of
// mass at the centre. Throws DataError naming `what` when no ink stands out from the background.
std::vector<float> mnist_digit(const Gray& g, const std::string& what);

}  // namespace gradc::cli
