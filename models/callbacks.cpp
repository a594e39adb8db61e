#include "models/callbacks.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "models/metadata.h"
#include "models/params.h"
#include "runtime/files.h"

namespace gradc {

Monitor::Monitor(std::string m, double delta) : metric(std::move(m)), min_delta(delta) {
  PeriodRow probe;
  probe.has_val = true;
  metric_of(probe, metric);  // unknown names fail here, when the callback is made
  best = metric_higher_is_better(metric) ? -INFINITY : INFINITY;
}

bool Monitor::improved(double v) const {
  return metric_higher_is_better(metric) ? v > best + min_delta : v < best - min_delta;
}

bool Monitor::plateau(double v, int patience) {
  if (improved(v)) {
    best = v;
    wait = 0;
    return false;
  }
  return ++wait >= std::max(1, patience);
}

void Monitor::require(const Trainer& t, const char* who) const {
  if (metric.rfind("val_", 0) == 0 && !t.has_validation())
    throw std::invalid_argument(std::string("gradc: ") + who + " monitors " + metric +
                                " but there is no validation set (--val-n or --val-fraction)");
}

void Monitor::save(Metadata& m, const std::string& prefix) const {
  m[prefix + "best"] = exact(best);
  m[prefix + "wait"] = std::to_string(wait);
}

namespace {
// The best value of `metric` a run can have recorded: a loss in [0, inf] (inf: no point yet), an
// accuracy in [0, 1] or -inf. -inf for a loss would make every later point "no improvement".
double load_best(const Metadata& m, const std::string& key, const std::string& metric, const std::string& path) {
  const double inf = std::numeric_limits<double>::infinity();
  if (!metric_higher_is_better(metric)) return metadata_real_in(m, key, path, 0, inf);
  const double v = metadata_real(m, key, path);
  return v == -inf ? v : metadata_real_in(m, key, path, 0, 1);
}
}  // namespace

void Monitor::load(const Metadata& m, const std::string& prefix, const std::string& path) {
  best = load_best(m, prefix + "best", metric, path);
  wait = metadata_int(m, prefix + "wait", int64_t{1} << 53, path);
}

namespace {
std::string point_name(const Trainer& t, const PeriodRow& row) {
  return t.by_steps() ? "period " + std::to_string(row.step / t.eval_every()) : "epoch " + std::to_string(row.epoch);
}
}  // namespace

EarlyStopping::EarlyStopping(std::string monitor, int patience, double min_delta, bool verbose)
    : mon_(std::move(monitor), min_delta), patience_(patience), verbose_(verbose) {}

void EarlyStopping::on_train_begin(Trainer& t) {
  mon_.require(t, "early stopping");
  if (verbose_)
    std::printf("early stopping: on (stops when %s has not improved for %d evaluation%s)\n", mon_.metric.c_str(),
                std::max(1, patience_), patience_ > 1 ? "s" : "");
}

void EarlyStopping::on_eval(Trainer& t, const PeriodRow& row) {
  const double v = metric_of(row, mon_.metric);
  if (!mon_.plateau(v, patience_)) return;
  t.request_stop(mon_.metric + " " + format("%.4f", v) + " has not improved on " + format("%.4f", mon_.best) + " for " +
                 std::to_string(mon_.wait) + " evaluation" + (mon_.wait > 1 ? "s" : ""));
  if (verbose_) std::printf("early stop after %s: %s\n", point_name(t, row).c_str(), t.stop_reason().c_str());
}

BestWeights::BestWeights(std::string dir, std::string monitor, bool verbose)
    : dir_(std::move(dir)), mon_(std::move(monitor)), verbose_(verbose) {}

void BestWeights::on_train_begin(Trainer& t) {
  mon_.require(t, "keep-best");
  if (verbose_) std::printf("keep-best: on (the weights of the best %s are kept)\n", mon_.metric.c_str());
  // After a resume: the best weights so far are those of best.safetensors, exactly what the
  // unbroken run holds in memory.
  if (best_.empty() && std::isfinite(mon_.best) && !dir_.empty()) {
    const std::string path = dir_ + "/best.safetensors";
    best_ = eval_weights(load_checkpoint(path).tensors, true);
  }
}

void BestWeights::on_eval(Trainer& t, const PeriodRow& row) {
  const double v = metric_of(row, mon_.metric);
  if (!mon_.improved(v)) return;
  if (verbose_)
    std::printf("  %s improved from %.4f to %.4f%s\n", mon_.metric.c_str(), mon_.best, v,
                dir_.empty() ? ", keeping these weights" : (", saving " + dir_ + "/best.safetensors").c_str());
  mon_.best = v;
  best_step_ = row.step;
  best_ = t.weights(true);
  if (!dir_.empty()) t.save(dir_ + "/best.safetensors", row.has_val ? row.val_loss : NAN);
}

void BestWeights::on_train_end(Trainer& t) {
  if (best_.empty()) return;
  t.set_weights(best_, "the best weights");
  if (verbose_)
    std::printf("restored the best weights: step %lld, epoch %lld (%s %.4f)\n", static_cast<long long>(best_step_),
                static_cast<long long>((best_step_ - 1) / t.steps_per_epoch() + 1), mon_.metric.c_str(), mon_.best);
}

void BestWeights::save_state(Metadata& m) const {
  m["state.best_val"] = exact(mon_.best);
  m["state.best_step"] = std::to_string(best_step_);
}

void BestWeights::load_state(const Metadata& m, const std::string& path) {
  mon_.best = load_best(m, "state.best_val", mon_.metric, path);
  best_step_ = metadata_int(m, "state.best_step", int64_t{1} << 53, path);
}

ReduceLROnPlateau::ReduceLROnPlateau(std::string monitor, double factor, int patience, double min_lr, bool verbose)
    : mon_(std::move(monitor)), factor_(factor), min_lr_(min_lr), patience_(patience), verbose_(verbose) {
  if (!(factor > 0 && factor < 1))
    throw std::invalid_argument("gradc: the plateau factor must be in (0, 1), not " + format("%g", factor));
}

void ReduceLROnPlateau::on_train_begin(Trainer& t) {
  mon_.require(t, "reduce-lr-on-plateau");
  t.set_lr_scale(scale_);
}

void ReduceLROnPlateau::on_eval(Trainer& t, const PeriodRow& row) {
  const double v = metric_of(row, mon_.metric);
  if (!mon_.plateau(v, patience_)) return;
  mon_.wait = 0;
  const double base = t.config().lr;
  const double next = std::max(scale_ * factor_, min_lr_ / base);
  if (next >= scale_) return;  // already at min_lr
  scale_ = next;
  t.set_lr_scale(scale_);
  if (verbose_)
    std::printf("  %s has not improved on %.4f: learning rate × %g (base lr now %g)\n", mon_.metric.c_str(), mon_.best,
                factor_, base * scale_);
}

void ReduceLROnPlateau::save_state(Metadata& m) const {
  mon_.save(m, "state.plateau.");
  m["state.plateau.scale"] = exact(scale_);
}

void ReduceLROnPlateau::load_state(const Metadata& m, const std::string& path) {
  mon_.load(m, "state.plateau.", path);
  scale_ = metadata_real_in(m, "state.plateau.scale", path, 0, 1, true);  // a product of factors in (0, 1)
}

const char* const kCsvHeader = "step,epoch,lr,loss,acc,val_loss,val_acc,steps_per_s";

std::string csv_row(const PeriodRow& r) {
  std::string s = std::to_string(r.step) + "," + std::to_string(r.epoch) + "," + format("%.9g", r.lr) + "," +
                  format("%.6f", r.train_loss) + "," + format("%.6f", r.train_acc) + ",";
  s += r.has_val ? format("%.6f", r.val_loss) + "," + format("%.6f", r.val_acc) : std::string(",");
  return s + "," + format("%.1f", r.steps_per_s);
}

CSVLogger::CSVLogger(std::string path) : path_(std::move(path)) {}

void CSVLogger::on_train_begin(Trainer& t) {
  std::string kept = std::string(kCsvHeader) + "\n";
  if (t.start_step() > 0 && file_kind(path_) == "a regular file") {  // keep the rows up to the checkpoint
    std::istringstream in(read_regular(path_, size_t{1} << 30));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const std::string step = line.substr(0, line.find(','));
      const bool number =
          !step.empty() && step.size() < 19 && step.find_first_not_of("0123456789") == std::string::npos;
      if (number && std::stoll(step) <= t.start_step()) kept += line + "\n";
    }
  }
  content_ = kept;
  write_file(path_, content_);
}

void CSVLogger::on_eval(Trainer&, const PeriodRow& row) {
  content_ += csv_row(row) + "\n";
  write_file(path_, content_);
}

}  // namespace gradc
