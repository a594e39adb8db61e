// Datasets: IDX files (raw or gzip), the tutorials' CSV format, and the MNIST/Fashion-MNIST layout.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/data_error.h"

namespace gradc {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned-byte element type only (what MNIST uses)
};

// Reads an IDX file of unsigned bytes, gzip-compressed or not (detected by magic bytes).
IdxArray read_idx(const std::string& path);
// Parses IDX bytes already in memory (`name` is used in error messages); what read_idx and the
// fuzz targets call.
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name);

struct Dataset {
  int64_t n = 0;
  int64_t features = 784;
  std::vector<float> x;            // n × features, scaled to [0, 1]
  std::vector<int32_t> y;          // n labels in [0, 10)
  std::string source;              // the file the examples came from (for error messages)
  std::vector<int64_t> item_dims;  // one example's dimensions in that file, e.g. {28, 28}
  std::string skipped_header;      // CSV: "FILE:LINE: a header row (...)" when one was skipped, for the caller to say
  std::string item_shape() const;  // "28x28"
};

// Throws DataError naming d.source, its example dimensions and the expected ones unless each
// example holds exactly `features` values: called before any copy of examples into a model input.
void check_features(const Dataset& d, int64_t features, const std::string& what);

// Pairs an images file and a labels file; checks counts and label range.
Dataset load_idx_pair(const std::string& images, const std::string& labels);
// `split` is "train" or "test"; finds <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
Dataset load_mnist_dir(const std::string& dir, const std::string& split);
// CSV rows "label,p0,...,p783" with pixels 0..255; an optional non-numeric header line is skipped.
Dataset load_csv(const std::string& path);
Dataset parse_csv(const std::string& text, const std::string& name);

// First `count` examples starting at `start` (throws if out of range).
Dataset slice(const Dataset& d, int64_t start, int64_t count);

}  // namespace gradc
