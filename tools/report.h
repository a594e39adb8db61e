// Training report folder: metrics.csv (one row per period/epoch), PNG charts and index.html.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "models/train.h"

namespace gradc::cli {

class Report {
 public:
  Report(std::string dir, const TrainConfig& cfg, const std::string& weights_at);
  void add_row(const PeriodRow& row);
  void finish(const TrainResult& r);

 private:
  std::string dir_;
  TrainConfig cfg_;
  std::vector<PeriodRow> rows_;
  std::FILE* csv_ = nullptr;
};

}  // namespace gradc::cli
