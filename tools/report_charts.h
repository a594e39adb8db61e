// The report's charts, each drawn by gnuplot in the report folder from CSV files written there.
// Every function returns the files it wrote (relative to `dir`).
#pragma once
#include <string>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/metrics.h"

namespace gradc::cli {

using Files = std::vector<std::string>;

// metrics.csv as the CSVLogger writes it: the text and its rows split at the commas. Throws
// DataError naming the file when its header is not the CSVLogger's.
struct MetricsCsv {
  std::string text;
  std::vector<std::vector<std::string>> rows;  // the header excluded
};
MetricsCsv read_metrics_csv(const std::string& path);

// What loss.png and accuracy.png show.
struct CurveSpec {
  bool by_epochs = false;    // epoch boundaries are marked (the x axis is the step either way)
  bool has_val = false;      // validation points
  double test_accuracy = 0;  // the dashed test line on accuracy.png (NaN: training still runs)
  int64_t steps_per_epoch = 0, total_steps = 0;
  int64_t kept_step = 0;   // keep-best kept this step's weights (a green line; 0: the last)
  bool has_steps = false;  // steps.csv holds the training loss every few steps
};
// loss.png (the training loss from steps.csv, raw faint and smoothed, with the per-point training
// and validation losses of metrics.csv) and accuracy.png (metrics.csv's points and the test line),
// against the step, epochs marked by dotted lines; legends below the plot, never over a curve.
Files plot_curves(const std::string& dir, const CurveSpec& c);
// lr.png from metrics.csv, only when the learning rate changes during the run: a step function,
// each point's rate drawn over the steps that used it.
Files plot_lr(const std::string& dir, bool by_epochs);
// confusion.png (rows normalised, counts in confusion.csv).
// confusion.png/.csv, or `stem`.png/.csv titled after `who` (another model's test figures).
Files plot_confusion(const std::string& dir, const Metrics& test, const std::string& stem = "confusion",
                     const std::string& who = "");
// `png`: a first-layer weight grid — one tile per unit, blue negative / red positive, symmetric
// colour scale with its bar.
Files plot_weights(const std::string& dir, const NamedTensor& w, const std::string& png, const std::string& title);
// labels.png: the label histogram of `train` (the split the run trained on); pixels.png: its
// first image's pixel values.
Files plot_data(const std::string& dir, const Dataset& train);

// The 28×28 input and its class-probability bars as one PNG (gradc predict --plot); `label` < 0
// when the true class is unknown (the user's own image). With a `saliency` of 784 values (the
// gradient of the predicted logit by the input) a heat map of it between them.
void plot_prediction(const std::string& path, const float* pixels, int label, const std::vector<double>& probs,
                     const std::vector<float>& saliency = {});

}  // namespace gradc::cli
