// Loaders on tiny hand-made files (raw, gzip, CSV, corrupt) and on the real MNIST files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/dataset.h"
#include "tests/test_dir.h"

namespace gradc {
namespace {

namespace fs = std::filesystem;

// A file in this test's directory (ctest runs each test in its own process).
fs::path tmp(const std::string& name) {
  static const TestDir d;
  return d / name;
}

std::vector<uint8_t> idx_bytes(std::vector<uint32_t> dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 8, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gz(const fs::path& p, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

TEST(Dataset, IdxRawAndGzipRoundTrip) {
  std::vector<uint8_t> pixels(2 * 2 * 2);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 30);
  write(tmp("im"), idx_bytes({2, 2, 2}, pixels));
  write_gz(tmp("lb.gz"), idx_bytes({2}, {7, 3}));
  Dataset d = load_idx_pair(tmp("im").string(), tmp("lb.gz").string());
  EXPECT_EQ(d.n, 2);
  EXPECT_EQ(d.features, 4);
  EXPECT_EQ(d.y, (std::vector<int32_t>{7, 3}));
  EXPECT_FLOAT_EQ(d.x[7], 210.f / 255.f);
}

TEST(Dataset, CorruptIdxFilesNameFileAndOffset) {
  write(tmp("trunc"), {0, 0, 8});
  EXPECT_NE(error_of([] { read_idx(tmp("trunc").string()); }).find("trunc: truncated at byte 3"), std::string::npos);
  write(tmp("magic"), {1, 2, 8, 1, 0, 0, 0, 0});
  EXPECT_NE(error_of([] { read_idx(tmp("magic").string()); }).find("bad IDX magic at byte 0"), std::string::npos);
  auto short_data = idx_bytes({10, 28, 28}, std::vector<uint8_t>(100));
  write(tmp("short"), short_data);
  EXPECT_NE(error_of([] { read_idx(tmp("short").string()); }).find("header promises 7840 data bytes"),
            std::string::npos);
  write(tmp("huge"), idx_bytes({0xffffffffu, 0xffffffffu}, {}));
  EXPECT_NE(error_of([] { read_idx(tmp("huge").string()); }).find("larger than 1 GiB"), std::string::npos);
  write(tmp("bad.gz"), {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6});
  EXPECT_NE(error_of([] { read_idx(tmp("bad.gz").string()); }).find("bad.gz"), std::string::npos);
  EXPECT_NE(error_of([] { read_idx(tmp("missing").string()); }).find("missing: file not found"), std::string::npos);
  write(tmp("lb_bad"), idx_bytes({1}, {12}));
  write(tmp("im1"), idx_bytes({1, 2}, {0, 0}));
  EXPECT_NE(error_of([] { load_idx_pair(tmp("im1").string(), tmp("lb_bad").string()); }).find("label 12 at byte 8"),
            std::string::npos);
}

TEST(Dataset, CsvWithHeaderAndErrors) {
  std::string row = "4";
  for (int i = 0; i < 784; ++i) row += "," + std::to_string(i % 256);
  std::string header = "label";
  for (int i = 1; i <= 784; ++i) header += ",pixel" + std::to_string(i);  // Kaggle's digit-recognizer names
  std::ofstream(tmp("ok.csv")) << header << "\n" << row << "\n" << row << "\n";
  Dataset d = load_csv(tmp("ok.csv").string());
  EXPECT_EQ(d.n, 2);
  EXPECT_EQ(d.y[1], 4);
  EXPECT_FLOAT_EQ(d.x[784 + 255], 1.f);
  std::ofstream(tmp("bad.csv")) << row << "\n3,1,2\n";
  EXPECT_NE(error_of([] { load_csv(tmp("bad.csv").string()); }).find("bad.csv:2: 3 columns, expected 785"),
            std::string::npos);
  std::ofstream(tmp("nan.csv")) << "7,x1" << row.substr(row.find(',', 2)) << "\n";  // 785 columns, one not a number
  EXPECT_NE(error_of([] { load_csv(tmp("nan.csv").string()); }).find("column 2 'x1' is not an integer"),
            std::string::npos);
}

// No silent change of data: a first row is a header only when it is 785 fields wide and none is a number, a
// UTF-8 BOM is stripped, control bytes (NUL included) are errors naming line and column.
TEST(Dataset, CsvHeaderBomAndControlBytes) {
  std::string pixels;
  for (int i = 0; i < 784; ++i) pixels += "," + std::to_string(i % 256);
  auto parse = [](const std::string& text) { return parse_csv(text, "t.csv"); };
  auto error = [&](const std::string& text) {
    try {
      parse(text);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(parse("3" + pixels + "\n5" + pixels + "\n").n, 2);  // no header: both rows kept
  std::string header = "label";
  for (int i = 0; i < 784; ++i) header += ",pixel" + std::to_string(i);
  const Dataset with_header = parse(header + "\n3" + pixels + "\n");  // a header: said, then skipped
  EXPECT_EQ(with_header.n, 1);
  EXPECT_NE(with_header.skipped_header.find("t.csv:1: a header row (label,pixel0,"), std::string::npos);
  EXPECT_TRUE(parse("3" + pixels + "\n").skipped_header.empty());
  // A first row with numeric pixels is data, whatever its label: an error naming it, never a row
  // silently dropped as a "header" (39 of 40 rows loaded before).
  for (const std::string& label : {std::string(""), std::string(" "), std::string("5\xC2\xA0"),
                                   std::string("\xEF\xBB\xBF"
                                               "5")})
    EXPECT_NE(error("\xEF\xBB\xBF" + label + pixels + "\n5" + pixels + "\n").find("t.csv:1: column 1 '"),
              std::string::npos)
        << "label '" << label << "'";
  EXPECT_NE(error("label,p0\n3" + pixels + "\n").find("t.csv:1: 2 columns, expected 785"), std::string::npos);
  Dataset bom = parse(
      "\xEF\xBB\xBF"
      "3" +
      pixels + "\n5" + pixels + "\n");
  ASSERT_EQ(bom.n, 2);  // the BOM was dropped, not the row
  EXPECT_EQ(bom.y[0], 3);
  EXPECT_EQ(parse(" 3" + pixels + "\n").n, 1);  // a leading space is data
  EXPECT_NE(error("-1" + pixels + "\n5" + pixels + "\n").find("t.csv:1: label -1 outside 0..9"), std::string::npos);
  EXPECT_NE(
      error("3" + pixels + "\n" + std::string(1, '\0') + pixels + "\n").find("t.csv:2: column 1: control byte 0x00"),
      std::string::npos);
  EXPECT_NE(error("3,1\x07" + pixels + "\n").find("t.csv:1: column 4: control byte 0x07"), std::string::npos);
}

TEST(Dataset, RealMnistFromSetup) {
  const char* env = std::getenv("GRADC_DATA");
  const std::string dir = std::string(env ? env : "data") + "/mnist";
  if (!fs::exists(dir + "/t10k-labels-idx1-ubyte")) GTEST_SKIP() << "MNIST not found in " << dir;
  Dataset test = load_mnist_dir(dir, "test");
  EXPECT_EQ(test.n, 10000);
  EXPECT_EQ(test.features, 784);
  EXPECT_EQ(test.y[0], 7);  // the first MNIST test digit is a 7
  // Pixels: each value is a byte / 255; three images' byte sum, ink count and position-weighted sum
  // (Σ (k+1)·byte_k), computed from the raw IDX file with Python, catch an offset or a transposition.
  struct Sums {
    int64_t image, sum, ink, weighted;
  };
  for (const Sums& want :
       {Sums{0, 18454, 116, 7715336}, Sums{1, 28850, 165, 11675909}, Sums{9999, 41833, 240, 16588239}}) {
    Sums got{want.image, 0, 0, 0};
    for (int64_t k = 0; k < 784; ++k) {
      const float v = test.x[static_cast<size_t>(want.image * 784 + k)] * 255.f;
      const auto byte = static_cast<int64_t>(std::lround(v));
      ASSERT_NEAR(v, static_cast<float>(byte), 1e-3f) << "image " << want.image << " pixel " << k;
      got.sum += byte, got.ink += byte > 0, got.weighted += (k + 1) * byte;
    }
    EXPECT_EQ(got.sum, want.sum) << "image " << want.image;
    EXPECT_EQ(got.ink, want.ink) << "image " << want.image;
    EXPECT_EQ(got.weighted, want.weighted) << "image " << want.image;
  }
  Dataset s = slice(test, 10, 5);
  EXPECT_EQ(s.y[0], test.y[10]);
  EXPECT_THROW(slice(test, 9999, 5), DataError);
}

}  // namespace
}  // namespace gradc
