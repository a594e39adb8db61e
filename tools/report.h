// Training report folder (gradc train --report DIR), a Callback on the Trainer: metrics.csv (written
// by the CSVLogger), charts drawn by gnuplot (loss, accuracy, learning rate, confusion matrix,
// first-layer weights with a colour scale, label histogram, one digit's pixels), sample digits as a
// PNG grid, and an offline index.html with the run's header, layer table and every hyperparameter.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/callbacks.h"
#include "models/train.h"
#include "runtime/files.h"
#include "runtime/metrics.h"
#include "tools/report_charts.h"
#include "tools/report_steptime.h"

namespace gradc::cli {

// What the report's header says about the run: any Trainer's (report_run() fills it for train()).
struct RunInfo {
  std::string title;    // "gradc train dnn", or your program's name
  std::string command;  // the command line as typed (shown in the page, never run)
  std::string started;  // local date and time
  std::vector<std::pair<std::string, std::string>> hyperparameters;  // one table row each
  std::string layers;                                                // summary(graph)
};

// The finished run's figures: FitResult, the held-out metrics, the weights evaluated, and the
// training examples used (label histogram, sample digits).
// Another model's test figures shown beside the run's (ova: softmax regression on the same data).
struct Baseline {
  std::string name;  // a file-name stem: confusion_<name>.png
  std::string what;  // a caption, "softmax regression (linear), the same data, steps and recipe"
  Metrics test;
};

struct ReportResult {
  FitResult fit;
  Metrics val, test;
  std::vector<NamedTensor> final_params;
  const Dataset* train = nullptr;
  std::vector<Baseline> baselines;
  int64_t kept_step = 0;  // the step whose weights the test figures use (0: the last)
  // The command's time up to the report (0: not known, e.g. a library user's run): its parts are
  // fit.seconds, fit.compile_ms and these.
  double command_seconds = 0, load_seconds = 0, eval_seconds = 0;
  // The test set and its logits [n, classes] under the evaluated weights (optional): the most
  // confident mistakes are drawn from them. one_vs_all: the scores are sigmoids, not a softmax.
  const Dataset* test_set = nullptr;
  StepTime step_time;  // "where the step time goes" (empty: no panel)
  std::vector<float> test_logits;
  bool one_vs_all = false;
};

// Text for HTML (&, <, >, quotes escaped).
std::string html_escape(const std::string& s);

// RunInfo and ReportResult of a train() run.
RunInfo report_run(const TrainConfig& cfg, std::string command, std::string started);
ReportResult report_result(const TrainResult& r, const Dataset& train);

// The report is rewritten while training runs — the curves and index.html at an evaluation point
// at least this many seconds (by default) after the last write (every write atomic: a reader never sees half a
// page or chart) — and completed by finish().
inline constexpr double kLiveSeconds = 10;

class Report : public Callback {
 public:
  // Creates `dir` (a named error if it cannot); weights_at: steps at which to also draw the
  // first-layer weights.
  // `live_every`: seconds between the in-progress rewrites (0: at every evaluation point).
  Report(std::string dir, RunInfo info, std::vector<int64_t> weights_at = {}, double live_every = kLiveSeconds);
  void on_train_begin(Trainer& t) override;
  void on_step_end(Trainer& t, float loss) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;
  // Draws the charts and writes index.html for the finished run (its test figures included).
  void finish(const ReportResult& r);
  // How a finished run trained, read back from its folder (gradc report).
  struct RunShape {
    bool by_epochs = false, has_val = false;
    int64_t steps_per_epoch = 0, total_steps = 0;
  };
  // finish() for a run that has ended without its report: metrics.csv (and steps.csv, if there) as
  // the run left them.
  void rebuild(const RunShape& s, const ReportResult& r);
  // Files written so far (relative to the folder), for index.html and tests.
  const std::vector<std::string>& files() const { return files_; }

 private:
  void write_html(const ReportResult& r) const;
  // The curves and a page marked "in progress" (it reloads itself), at most every kLiveSeconds.
  void write_live(Trainer& t);
  static Files write_mistakes(const std::string& dir, const ReportResult& r);
  void write_run_json(const ReportResult& r);
  void add_files(const std::vector<std::string>& f);
  bool has(const std::string& file) const;

  std::string dir_;
  RunInfo info_;
  CSVLogger csv_;
  std::vector<int64_t> weights_at_;
  std::vector<std::pair<int64_t, NamedTensor>> snapshots_;  // (step, first-layer weights)
  std::vector<std::string> files_;
  bool by_epochs_ = false;
  bool has_val_ = false;
  // The training loss every stride_ steps (mean over those steps), for steps.csv and loss.png.
  std::vector<std::pair<int64_t, double>> step_loss_;
  int64_t stride_ = 1, steps_per_epoch_ = 0, total_steps_ = 0;
  double loss_sum_ = 0;
  int64_t loss_n_ = 0;
  void write_steps_csv() const;
  CurveSpec curve_spec(double test_accuracy, int64_t kept_step) const;
  int64_t live_step_ = 0, live_total_ = 0;  // the in-progress page's step and run length (0: finished)
  std::chrono::steady_clock::time_point last_live_;
  double live_every_ = kLiveSeconds;
  double charts_seconds_ = 0;    // finish()'s charts, for the page's wall time
  bool steps_on_disk_ = false;   // rebuild(): steps.csv is the run's own
  std::optional<DirLock> lock_;  // the report directory, held by rank 0 for the run
};

}  // namespace gradc::cli
