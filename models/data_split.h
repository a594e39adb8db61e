// Where a run's examples come from: a named dataset (MNIST, Fashion-MNIST or the tutorials' CSV),
// optionally only its first N images, optionally shuffled (seeded) before a train/validation split.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dataset.h"

namespace gradc {

struct DataConfig {
  std::string dataset = "mnist";   // or fashion-mnist, csv:TRAIN.csv[,TEST.csv]
  std::string data_dir;            // default $GRADC_DATA or ./data
  int64_t first_n = 0;             // use only the first N training images (0 = all)
  bool shuffle_split = false;      // permute those (seeded) before splitting, as the MLCC notebook does
  int64_t train_n = 0, val_n = 0;  // explicit split sizes (from the front) ...
  double val_fraction = 0;         // ... or the last fraction as validation
  int64_t test_n = 0;              // evaluate on the first N test images (0 = all)
};

struct Splits {
  Dataset train, val, test;  // val may be empty (n == 0)
};

// Loads and splits the training file and loads the test file; `seed` drives shuffle_split.
Splits load_splits(const DataConfig& c, uint64_t seed);

// Loads the dataset split "train" or "test" by name (mnist | fashion-mnist | csv:...) from data_dir.
Dataset load_named(const std::string& dataset, const std::string& data_dir, const std::string& split);

// A seeded permutation of [0, n) for one epoch (Fisher-Yates on a 64-bit engine): stateless, so
// that resuming at any step reproduces the same batches without saving RNG state.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch);

// The examples of `d` in the order `p`.
Dataset permuted(const Dataset& d, const std::vector<int64_t>& p);

}  // namespace gradc
