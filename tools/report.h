// Training report folder (gradc train --report DIR): metrics.csv, PNG charts drawn by gnuplot
// (loss, accuracy, learning rate, confusion heatmap, label histogram, one digit's pixels), image
// grids written with libpng (first-layer weights, sample digits), and an offline index.html.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "models/train.h"

namespace gradc::cli {

// Creates `dir` and opens dir/file for writing with `header` as its first line (a benchmark's
// --report CSV); throws std::invalid_argument naming the path when it cannot.
std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header);

// Runs a gnuplot script (pngcairo terminal) in `dir`; throws with gnuplot's complaint on failure.
void run_gnuplot(const std::string& dir, const std::string& script);

// The digit and its class-probability bars as one PNG (gradc predict --plot).
void plot_prediction(const std::string& path, const Dataset& one, const std::vector<double>& probs);

class Report {
 public:
  // weights_at: comma-separated steps at which to also save the first-layer weight grid.
  Report(std::string dir, TrainConfig& cfg, const std::string& weights_at);
  ~Report();
  void add_row(const PeriodRow& row);
  void finish(const TrainResult& r);
  // Files written so far (relative to the folder), for index.html and tests.
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::string dir_;
  TrainConfig cfg_;
  std::vector<PeriodRow> rows_;
  std::vector<std::string> files_;
  std::vector<std::pair<int64_t, std::string>> weight_snaps_;
  std::FILE* csv_ = nullptr;
  // A resumed run continues metrics.csv: the rows written before the interruption (step, line);
  // those past the resumed step (written after its checkpoint) are dropped at the first new row.
  std::vector<std::pair<int64_t, std::string>> earlier_;
  void rewrite_csv(int64_t before_step);
};

}  // namespace gradc::cli
