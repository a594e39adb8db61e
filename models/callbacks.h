// Keras-style callbacks for the Trainer. Metrics are named as Keras names them: loss, acc,
// val_loss, val_acc (loss/acc: the whole training split when small, else the running means).
// "Patience p": the run acts after max(1, p) evaluation points in a row without improvement.
#pragma once
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "models/trainer.h"

namespace gradc {

// Tracks the best value of a metric (improvement: by more than min_delta in its good direction).
struct Monitor {
  explicit Monitor(std::string metric, double min_delta = 0);
  std::string metric;
  double min_delta = 0;
  double best;       // ±inf until the first point
  int64_t wait = 0;  // points since the last improvement
  bool improved(double v) const;
  // Records `v`: true when it is the max(1, patience)-th point in a row without improvement.
  bool plateau(double v, int patience);
  void require(const Trainer& t, const char* who) const;  // named error when val_* has no val set
  void save(Metadata& m, const std::string& prefix) const;
  void load(const Metadata& m, const std::string& prefix, const std::string& path);
};

// Stops training when `monitor` has not improved for `patience` points.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::string monitor = "val_loss", int patience = 0, double min_delta = 0, bool verbose = true);
  void on_train_begin(Trainer& t) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;
  void save_state(Metadata& m) const override { mon_.save(m, "state.early_stop."); }
  void load_state(const Metadata& m, const std::string& path) override { mon_.load(m, "state.early_stop.", path); }

 private:
  Monitor mon_;
  int patience_;
  bool verbose_;
};

// Keeps the weights of the best `monitor` value (ModelCheckpoint(save_best_only) +
// restore_best_weights): saves them as <dir>/best.safetensors when dir is set, and puts them back
// into the Trainer when training ends. After a resume it reloads them from that file.
class BestWeights : public Callback {
 public:
  explicit BestWeights(std::string dir = "", std::string monitor = "val_loss", bool verbose = true);
  void on_train_begin(Trainer& t) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;
  void on_train_end(Trainer& t) override;
  void save_state(Metadata& m) const override;
  void load_state(const Metadata& m, const std::string& path) override;
  int64_t best_step() const { return best_step_; }
  bool restored() const { return !best_.empty(); }  // on_train_end put the best weights back

 private:
  std::string dir_;
  Monitor mon_;
  bool verbose_;
  int64_t best_step_ = 0;
  std::vector<NamedTensor> best_;
};

// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience` points,
// never below min_lr.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1, int patience = 2, double min_lr = 0,
                             bool verbose = true);
  void on_train_begin(Trainer& t) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;
  void save_state(Metadata& m) const override;
  void load_state(const Metadata& m, const std::string& path) override;

 private:
  Monitor mon_;
  double factor_, min_lr_, scale_ = 1;
  int patience_;
  bool verbose_;
};

// One CSV row per evaluation point: step,epoch,lr,loss,acc,val_loss,val_acc,steps_per_s (the
// validation columns empty without a validation set). A resumed run keeps the rows up to its
// checkpoint and continues the file.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path);
  void on_train_begin(Trainer& t) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;

 private:
  std::string path_;
  std::string content_;  // the whole file: each evaluation rewrites it atomically (never through a link)
};
// The CSV line of a row (no newline), and the header line.
std::string csv_row(const PeriodRow& row);
extern const char* const kCsvHeader;

// Keras-like progress: "Epoch 3/16" (or "Period 3/10"), on a terminal a live bar for that epoch
// with ETA and running loss/acc, and a closing line per point with every metric. Lines are
// flushed as written.
class ProgressLogger : public Callback {
 public:
  explicit ProgressLogger(bool terminal);
  void on_step_end(Trainer& t, float loss) override;
  void on_eval(Trainer& t, const PeriodRow& row) override;

 private:
  void bar(const Trainer& t, int64_t done, int64_t n, const std::string& tail) const;
  bool tty_;
  double last_print_ = -1, point_start_ = 0;
};

// Ad-hoc hooks without a class.
struct LambdaCallback : Callback {
  std::function<void(Trainer&)> train_begin;
  std::function<void(Trainer&, float)> step_end;
  std::function<void(Trainer&, const PeriodRow&)> eval;
  std::function<void(Trainer&)> train_end;
  void on_train_begin(Trainer& t) override {
    if (train_begin) train_begin(t);
  }
  void on_step_end(Trainer& t, float loss) override {
    if (step_end) step_end(t, loss);
  }
  void on_eval(Trainer& t, const PeriodRow& row) override {
    if (eval) eval(t, row);
  }
  void on_train_end(Trainer& t) override {
    if (train_end) train_end(t);
  }
};

}  // namespace gradc
