#include "tools/report.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "models/metadata.h"
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
  ReportResult rr;
  rr.fit = r;
  rr.val = r.val;
  rr.test = r.test;
  rr.final_params = r.final_params;
  rr.train = &train;
  rr.kept_step = r.kept_step;
  rr.load_seconds = r.load_seconds;
  rr.eval_seconds = r.eval_seconds;
  return rr;
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
  for (const char* f : {"metrics.csv", "loss.png", "accuracy.png", "lr.csv", "lr.png", "confusion.csv", "confusion.png",
                        "weights.png", "samples.png", "labels.csv", "labels.png", "digit0.csv", "pixels.png",
                        "index.html", "steps.csv", "mistakes.csv", "mistakes.png", "run.json", "step.svg"})
    check_output_file(dir_ + "/" + f, "--report");
  for (int64_t step : weights_at_)
    check_output_file(dir_ + "/weights_step" + std::to_string(step) + ".png", "--report");
}

void Report::on_train_begin(Trainer& t) {
  csv_.on_train_begin(t);  // a resumed run keeps the rows up to its checkpoint
  by_epochs_ = !t.by_steps();
  total_steps_ = t.total_steps();
  steps_per_epoch_ = t.steps_per_epoch();
  stride_ = std::max<int64_t>(1, total_steps_ / 400);  // at most ~400 points per curve
  add_files({"metrics.csv"});
  last_live_ = std::chrono::steady_clock::now();
}

void Report::add_files(const std::vector<std::string>& f) {
  for (const std::string& name : f)
    if (!has(name)) files_.push_back(name);
}

// steps.csv: step, the training loss over the stride ending there, and its smoothed value — an
// exponential moving average with weight 0.6, debiased as TensorBoard's smoothing.
void Report::write_steps_csv() const {
  std::string s = "step,loss,smoothed\n";
  double ema = 0, w = 0;
  for (const auto& [step, loss] : step_loss_) {
    ema = 0.6 * ema + 0.4 * loss;
    w = 0.6 * w + 0.4;
    s += std::to_string(step) + "," + format("%.6g", loss) + "," + format("%.6g", ema / w) + "\n";
  }
  write_file(dir_ + "/steps.csv", s);
}

CurveSpec Report::curve_spec(double test_accuracy, int64_t kept_step) const {
  CurveSpec c;
  c.by_epochs = by_epochs_;
  c.has_val = has_val_;
  c.test_accuracy = test_accuracy;
  c.steps_per_epoch = steps_per_epoch_;
  c.total_steps = total_steps_;
  c.kept_step = kept_step;
  c.has_steps = !step_loss_.empty() || steps_on_disk_;
  return c;
}

void Report::write_live(Trainer& t) {
  write_steps_csv();
  add_files(plot_curves(dir_, curve_spec(NAN, 0)));
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

void Report::on_step_end(Trainer& t, float loss) {
  loss_sum_ += loss;
  ++loss_n_;
  if (t.step() % stride_ == 0 || t.step() == total_steps_) {
    step_loss_.emplace_back(t.step(), loss_sum_ / static_cast<double>(loss_n_));
    loss_sum_ = 0;
    loss_n_ = 0;
  }
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

// mistakes.png and mistakes.csv: the 30 test images the model got wrong with the highest
// probability for its (wrong) answer — softmax of the logits, or each class's sigmoid for
// one-vs-all — most confident first.
Files Report::write_mistakes(const std::string& dir, const ReportResult& r) {
  const Dataset* d = r.test_set;
  if (!d || d->features != 784 || d->n == 0 || r.test_logits.size() % static_cast<size_t>(d->n) != 0) return {};
  const int64_t c = static_cast<int64_t>(r.test_logits.size()) / d->n;
  if (c < 2) return {};
  struct Miss {
    int64_t i;
    int pred;
    double p;
  };
  std::vector<Miss> miss;
  for (int64_t i = 0; i < d->n; ++i) {
    const float* z = r.test_logits.data() + i * c;
    const int pred = static_cast<int>(std::max_element(z, z + c) - z);
    if (pred == d->y[static_cast<size_t>(i)]) continue;
    double p = 1 / (1 + std::exp(-static_cast<double>(z[pred])));
    if (!r.one_vs_all) {
      double sum = 0;
      for (int64_t k = 0; k < c; ++k) sum += std::exp(static_cast<double>(z[k] - z[pred]));
      p = 1 / sum;
    }
    miss.push_back({i, pred, p});
  }
  std::sort(miss.begin(), miss.end(), [](const Miss& a, const Miss& b) { return a.p != b.p ? a.p > b.p : a.i < b.i; });
  if (miss.size() > 30) miss.resize(30);
  std::vector<int64_t> idx;
  std::vector<int> pred;
  std::string csv = "test_index,label,predicted,probability\n";
  for (const Miss& m : miss) {
    idx.push_back(m.i);
    pred.push_back(m.pred);
    csv += std::to_string(m.i) + "," + std::to_string(d->y[static_cast<size_t>(m.i)]) + "," + std::to_string(m.pred) +
           "," + format("%.4f", m.p) + "\n";
  }
  write_file(dir + "/mistakes.csv", csv);
  if (miss.empty()) return {"mistakes.csv"};
  write_png(dir + "/mistakes.png", mistake_grid(*d, idx, pred, 10, 3));
  return {"mistakes.csv", "mistakes.png"};
}

// run.json: what gradc compare reads of a finished run — its title, command, hyperparameters and
// final figures.
void Report::write_run_json(const ReportResult& r) {
  nlohmann::json hyper = nlohmann::json::object();
  for (const auto& [k, v] : info_.hyperparameters) hyper[k] = v;
  nlohmann::json j = {{"title", info_.title},
                      {"command", info_.command},
                      {"started", info_.started},
                      {"hyperparameters", hyper},
                      {"steps", r.fit.steps},
                      {"kept_step", r.kept_step},
                      {"test_accuracy", r.test.accuracy()},
                      {"test_log_loss", r.test.log_loss()},
                      {"test_examples", r.test.count},
                      {"by_epochs", by_epochs_}};
  if (r.val.count > 0) j["val_accuracy"] = r.val.accuracy(), j["val_log_loss"] = r.val.log_loss();
  write_file(dir_ + "/run.json", j.dump(2) + "\n");
  add_files({"run.json"});
}

void Report::rebuild(const RunShape& s, const ReportResult& r) {
  by_epochs_ = s.by_epochs;
  has_val_ = s.has_val;
  steps_per_epoch_ = s.steps_per_epoch;
  total_steps_ = s.total_steps;
  steps_on_disk_ = file_kind(dir_ + "/steps.csv") == "a regular file";
  add_files({"metrics.csv"});
  finish(r);
}

bool Report::has(const std::string& file) const {
  return std::find(files_.begin(), files_.end(), file) != files_.end();
}

void Report::finish(const ReportResult& r) {
  const auto t0 = std::chrono::steady_clock::now();
  auto add = [&](const Files& f) { add_files(f); };
  if (!steps_on_disk_) write_steps_csv();
  has_val_ = has_val_ || r.val.count > 0;
  add(plot_curves(dir_, curve_spec(r.test.accuracy(), r.kept_step)));
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
  add_files(write_mistakes(dir_, r));
  if (r.train && r.train->n > 0 && r.train->features == 784) {  // 28×28 images: digits and labels
    write_png(dir_ + "/samples.png", digit_grid(*r.train, 40, 10));
    add_files({"samples.png"});
    add(plot_data(dir_, *r.train));
  }
  write_run_json(r);
  charts_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ReportResult page = r;
  if (page.command_seconds > 0) page.command_seconds += charts_seconds_;
  write_html(page);
  add_files({"index.html"});
}

}  // namespace gradc::cli
