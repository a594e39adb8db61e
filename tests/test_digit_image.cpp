// The user's own digit (gradc predict --png): MNIST's preprocessing on synthetic pictures and on
// MNIST digits redrawn large, dark on light, on a canvas; unreadable input is a named error.
#include <gtest/gtest.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "models/data_split.h"
#include "runtime/dataset.h"
#include "tests/test_dir.h"
#include "tools/digit_image.h"
#include "tools/image.h"

namespace gradc::cli {
namespace {

namespace fs = std::filesystem;

// This test's directory (ctest runs each test in its own process).
fs::path tmpdir() {
  static const TestDir d;
  return d.path();
}

struct Moments {
  double mass = 0, cx = 0, cy = 0;
  int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
};
Moments moments(const std::vector<float>& v) {
  Moments m;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const double p = v[static_cast<size_t>(y * 28 + x)];
      m.mass += p, m.cx += p * x, m.cy += p * y;
      if (p >= 0.1)
        m.x0 = std::min(m.x0, x), m.y0 = std::min(m.y0, y), m.x1 = std::max(m.x1, x), m.y1 = std::max(m.y1, y);
    }
  m.cx /= m.mass, m.cy /= m.mass;
  return m;
}

TEST(DigitImage, DarkBarOnWhiteBecomesACentredBrightBarTwentyPixelsTall) {
  Gray g{120, 80, std::vector<float>(120 * 80, 1.f)};
  for (int y = 10; y < 60; ++y)
    for (int x = 90; x < 100; ++x) g.v[static_cast<size_t>(y * 120 + x)] = 0.f;  // off-centre, 10×50
  const std::vector<float> d = mnist_digit(g, "bar");
  const Moments m = moments(d);
  EXPECT_EQ(m.y1 - m.y0 + 1, 20);  // the long side fills 20 pixels
  EXPECT_EQ(m.x1 - m.x0 + 1, 4);   // 10·20/50
  EXPECT_NEAR(m.cx, 14, 0.5);
  EXPECT_NEAR(m.cy, 14, 0.5);
  EXPECT_FLOAT_EQ(*std::max_element(d.begin(), d.end()), 1.f);
  EXPECT_FLOAT_EQ(d[0], 0.f);  // background black
  // The same bar light on dark is not inverted and gives the same input.
  for (float& v : g.v) v = 1 - v;
  EXPECT_EQ(mnist_digit(g, "bar"), d);
}

TEST(DigitImage, MnistDigitsRedrawnLargeOnPaperComeBackAsTheyWere) {
  Dataset test;
  try {
    test = load_named("mnist", std::getenv("GRADC_DATA") ? std::getenv("GRADC_DATA") : "data", "test");
  } catch (const std::exception&) {
    GTEST_SKIP() << "MNIST missing";
  }
  const fs::path png = tmpdir() / "digit.png";
  double worst = 1;
  for (int i = 0; i < 20; ++i) {
    // ×4, dark ink on a light grey page, off-centre on a 170×150 canvas.
    Image img(170, 150, 235);
    for (int y = 0; y < 112; ++y)
      for (int x = 0; x < 112; ++x) {
        const float v = test.x[static_cast<size_t>(i * 784 + (y / 4) * 28 + x / 4)];
        const auto c = static_cast<uint8_t>(235 - 225 * v);
        img.set(40 + x, 20 + y, c, c, c);
      }
    write_png(png.string(), img);
    const std::vector<float> d = mnist_digit(read_gray_png(png.string()), png.string());
    double sab = 0, saa = 0, sbb = 0, ma = 0, mb = 0;
    for (size_t k = 0; k < 784; ++k) ma += d[k] / 784, mb += test.x[static_cast<size_t>(i * 784) + k] / 784;
    for (size_t k = 0; k < 784; ++k) {
      const double a = d[k] - ma, b = test.x[static_cast<size_t>(i * 784) + k] - mb;
      sab += a * b, saa += a * a, sbb += b * b;
    }
    worst = std::min(worst, sab / std::sqrt(saa * sbb));
  }
  EXPECT_GT(worst, 0.99) << "correlation with the original MNIST digit";
  fs::remove(png);
}

TEST(DigitImage, TransparentBackgroundIsCompositedOppositeTheInk) {
  // Gray+alpha: black strokes on a fully transparent background (what drawing apps export).
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = 60, img.height = 60, img.format = PNG_FORMAT_GA;
  std::vector<png_byte> ga(60 * 60 * 2, 0);  // gray 0, alpha 0
  for (int y = 15; y < 45; ++y)
    for (int x = 25; x < 35; ++x) ga[static_cast<size_t>((y * 60 + x) * 2 + 1)] = 255;  // opaque black bar
  const fs::path png = tmpdir() / "alpha.png";
  ASSERT_TRUE(png_image_write_to_file(&img, png.c_str(), 0, ga.data(), 0, nullptr)) << img.message;
  const std::vector<float> d = mnist_digit(read_gray_png(png.string()), "alpha");
  const Moments m = moments(d);
  EXPECT_EQ(m.y1 - m.y0 + 1, 20);
  EXPECT_NEAR(m.cx, 14, 0.5);
  fs::remove(png);
}

TEST(DigitImage, UnreadableInputIsANamedError) {
  const fs::path d = tmpdir();
  auto expect = [](const std::string& path, const std::string& what) {
    try {
      mnist_digit(read_gray_png(path), path);
      ADD_FAILURE() << path << ": no error";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  std::ofstream((d / "text.png").string()) << "not a png at all";
  expect((d / "text.png").string(), "not a readable PNG");
  write_png((d / "blank.png").string(), Image(50, 50, 255));
  expect((d / "blank.png").string(), "no digit found");
  std::ifstream good((d / "blank.png").string(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(good)), {});
  std::ofstream((d / "cut.png").string(), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect((d / "cut.png").string(), "not a readable PNG");
  ASSERT_EQ(::mkfifo((d / "fifo.png").c_str(), 0600), 0);
  expect((d / "fifo.png").string(), "FIFO");
  expect((d / "missing.png").string(), "not found");
}

}  // namespace
}  // namespace gradc::cli
