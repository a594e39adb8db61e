#include "models/data_split.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace gradc {

std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng() % static_cast<uint64_t>(i + 1)]);
  return p;
}

Dataset permuted(const Dataset& d, const std::vector<int64_t>& p) {
  Dataset s = d;
  for (size_t i = 0; i < p.size(); ++i) {
    const int64_t src = p[i];
    std::copy(d.x.begin() + src * d.features, d.x.begin() + (src + 1) * d.features,
              s.x.begin() + static_cast<int64_t>(i) * d.features);
    s.y[i] = d.y[static_cast<size_t>(src)];
  }
  return s;
}

Dataset load_named(const std::string& dataset, const std::string& data_dir, const std::string& split) {
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("GRADC_DATA");
    dir = env && *env ? env : "data";
  }
  if (dataset.rfind("csv:", 0) == 0) {  // csv:TRAIN.csv[,TEST.csv] in the tutorials' CSV format
    const std::string files = dataset.substr(4);
    const auto comma = files.find(',');
    const std::string train_file = files.substr(0, comma);
    const std::string test_file = comma == std::string::npos ? train_file : files.substr(comma + 1);
    if (train_file.empty() || test_file.empty())
      throw DataError("gradc: --dataset '" + dataset + "' names no file (use csv:TRAIN.csv[,TEST.csv])");
    Dataset d = load_csv(split == "test" ? test_file : train_file);
    const bool said = split == "test" && test_file == train_file;  // the train split said it already
    if (!d.skipped_header.empty() && !said) std::fprintf(stderr, "gradc: skipped %s\n", d.skipped_header.c_str());
    return d;
  }
  if (dataset != "mnist" && dataset != "fashion-mnist")
    throw std::invalid_argument("gradc: unknown dataset '" + dataset +
                                "' (use mnist, fashion-mnist or csv:TRAIN.csv[,TEST.csv])");
  return load_mnist_dir(dir + "/" + dataset, split);
}

Splits load_splits(const DataConfig& c, uint64_t seed) {
  Dataset all = load_named(c.dataset, c.data_dir, "train");
  Dataset base = c.first_n > 0 ? slice(all, 0, std::min(c.first_n, all.n)) : all;
  if (c.shuffle_split) base = permuted(base, permutation(base.n, seed ^ 0x5eedULL, -1));
  Splits s;
  if (c.train_n > 0) {
    s.train = slice(base, 0, std::min(c.train_n, base.n));
    const int64_t vn = c.val_n > 0 ? c.val_n : base.n - s.train.n;
    s.val = slice(base, s.train.n, std::min(vn, base.n - s.train.n));
  } else if (c.val_fraction > 0) {
    const auto vn = static_cast<int64_t>(std::llround(static_cast<double>(base.n) * c.val_fraction));
    s.train = slice(base, 0, base.n - vn);
    s.val = slice(base, base.n - vn, vn);
  } else {
    s.train = base;
  }
  s.test = load_named(c.dataset, c.data_dir, "test");
  if (c.test_n > 0) s.test = slice(s.test, 0, std::min(c.test_n, s.test.n));
  return s;
}

}  // namespace gradc
