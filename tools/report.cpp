#include "tools/report.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/models.h"
#include "models/summary.h"
#include "runtime/comm.h"
#include "runtime/files.h"
#include "tools/image.h"
#include "tools/report_charts.h"

namespace gradc::cli {

RunInfo report_run(const TrainConfig& cfg, std::string command, std::string started) {
  const auto m = build_model(cfg.model, {.batch = cfg.batch}, cfg.arch);
  return {"gradc train " + cfg.model, std::move(command), std::move(started), hyperparameters(cfg), summary(m->g)};
}

ReportResult report_result(const TrainResult& r, const Dataset& train) {
  return {r, r.val, r.test, r.final_params, &train, {}};
}

Report::Report(std::string dir, RunInfo info, std::vector<int64_t> weights_at, double live_every)
    : dir_(std::move(dir)),
      info_(std::move(info)),
      csv_(dir_ + "/metrics.csv"),
      weights_at_(std::move(weights_at)),
      live_every_(live_every) {
  make_dirs(dir_, "--report");
  if (world().rank() == 0) lock_.emplace(dir_, "--report");
  // Every file the report will write, checked before the first step (a directory or FIFO of one of
  // these names failed only after training); weights_stepN.png are checked as they are chosen.
  for (const char* f :
       {"metrics.csv", "loss.png", "accuracy.png", "lr.csv", "lr.png", "confusion.csv", "confusion.png", "weights.png",
        "samples.png", "labels.csv", "labels.png", "digit0.csv", "pixels.png", "index.html"})
    check_output_file(dir_ + "/" + f, "--report");
  for (int64_t step : weights_at_)
    check_output_file(dir_ + "/weights_step" + std::to_string(step) + ".png", "--report");
}

void Report::on_train_begin(Trainer& t) {
  csv_.on_train_begin(t);  // a resumed run keeps the rows up to its checkpoint
  by_epochs_ = !t.by_steps();
  add_files({"metrics.csv"});
  last_live_ = std::chrono::steady_clock::now();
}

void Report::add_files(const std::vector<std::string>& f) {
  for (const std::string& name : f)
    if (!has(name)) files_.push_back(name);
}

void Report::write_live(Trainer& t) {
  add_files(plot_curves(dir_, by_epochs_, has_val_, NAN));
  add_files(plot_lr(dir_, by_epochs_));
  ReportResult r;
  r.fit.steps = t.step();
  r.fit.seconds = t.seconds();
  r.fit.steps_per_s = static_cast<double>(t.step()) / std::max(t.seconds(), 1e-9);
  live_step_ = t.step();
  live_total_ = t.total_steps();
  write_html(r);
  live_total_ = 0;
  add_files({"index.html"});
}

void Report::on_step_end(Trainer& t, float) {
  if (std::find(weights_at_.begin(), weights_at_.end(), t.step()) == weights_at_.end()) return;
  const std::vector<NamedTensor> w = t.weights(false);
  if (const NamedTensor* first = first_layer(w)) snapshots_.emplace_back(t.step(), *first);
}

void Report::on_eval(Trainer& t, const PeriodRow& row) {
  csv_.on_eval(t, row);
  has_val_ = row.has_val;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_live_).count();
  if (world().rank() != 0 || since < live_every_ || t.step() >= t.total_steps() || !t.stop_reason().empty()) return;
  write_live(t);  // the last point is drawn by finish()
  last_live_ = std::chrono::steady_clock::now();
}

bool Report::has(const std::string& file) const {
  return std::find(files_.begin(), files_.end(), file) != files_.end();
}

void Report::finish(const ReportResult& r) {
  auto add = [&](const Files& f) { add_files(f); };
  add(plot_curves(dir_, by_epochs_, r.val.count > 0, r.test.accuracy()));
  add(plot_lr(dir_, by_epochs_));
  add(plot_confusion(dir_, r.test));
  for (const Baseline& b : r.baselines) add(plot_confusion(dir_, b.test, "confusion_" + b.name, b.name));
  if (const NamedTensor* w = first_layer(r.final_params))
    add(plot_weights(dir_, *w, "weights.png",
                     "first-layer weights " + w->shape.str() + " after training: " +
                         (w->shape.rank == 4 ? "one tile per filter (input channel 0)" : "one 28×28 tile per unit")));
  for (const auto& [step, w] : snapshots_)
    add(plot_weights(dir_, w, "weights_step" + std::to_string(step) + ".png",
                     "first-layer weights after step " + std::to_string(step)));
  if (r.train && r.train->n > 0 && r.train->features == 784) {  // 28×28 images: digits and labels
    write_png(dir_ + "/samples.png", digit_grid(*r.train, 40, 10));
    add_files({"samples.png"});
    add(plot_data(dir_, *r.train));
  }
  write_html(r);
  add_files({"index.html"});
}

}  // namespace gradc::cli
