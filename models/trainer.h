// The Trainer: fits ANY graph that has a feature input, an int32 label input and a scalar loss —
// the CLI's tutorial recipes and a user's own model go through this same loop.
//
//   Trainer t("my_mlp", [](Model& m, const ModelOptions& o) { ... m.logits = ...; m.loss = ...; }, cfg);
//   t.add_callback(std::make_shared<EarlyStopping>("val_loss", 2));
//   FitResult r = t.fit(train, val);
//   Metrics test = t.evaluate(test_set);
//
// The builder is called once per batch size (training at cfg.batch, evaluation at cfg.eval_batch
// with the last partial batch counted), so it must build the same parameters every time. The
// Trainer feeds the learning rate (schedule, Adam's bias correction, plateau reductions), the step's
// dropout key, and the batches of a seeded per-epoch permutation (an epoch's last incomplete batch is
// dropped, as in the tutorials). Inputs are found by name: cfg.feeds.
#pragma once
#include <cmath>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/optim.h"
#include "models/evaluator.h"
#include "models/models.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/metrics.h"

namespace gradc {

using Metadata = std::map<std::string, std::string>;

struct Schedule {
  enum class Kind { Constant, Exponential, PerEpoch, OneCycle } kind = Kind::Constant;
  float rate = 1.f;  // Exponential: lr·rate^(step/decay_steps); PerEpoch: lr·rate^epoch
  int64_t decay_steps = 1000;
  bool staircase = false;  // Exponential: integer division of step/decay_steps
  // OneCycle (the triangular schedule of the fast CIFAR/MNIST training recipes): the rate rises
  // linearly to lr over this fraction of the run, then falls linearly to 0 at its last step.
  float warmup = 0.2f;
  // `total`: the run's steps (OneCycle's shape depends on them).
  float lr_at(float base, int64_t step, int64_t epoch, int64_t total = 0) const;
};
Schedule::Kind parse_schedule(const std::string& s);
const char* schedule_name(Schedule::Kind k);

struct FitConfig {
  int64_t batch = 32;
  int64_t steps = 0;   // > 0: train this many steps ...
  int64_t epochs = 0;  // ... else this many epochs
  int periods = 10;    // evaluation points when training by steps (by epochs: one per epoch)
  float lr = 0.01f;
  OptimizerConfig opt;
  Schedule schedule;
  bool sum_loss = false;  // differentiate the batch's summed loss (TF1 estimators) instead of its mean
  uint64_t seed = 42;     // weights, shuffling, dropout
  int threads = 0;        // 0 = OpenMP default
  EngineKind engine = EngineKind::Jit;
  bool fuse = true;                    // compiler fusion
  bool bf16 = false;                   // the step's GEMMs on bf16 operands (CompileOptions::bf16)
  std::vector<std::string> passes;     // explicit pass pipeline (empty = default)
  bool check_numerics = false;         // on NaN/Inf: name the first op that produced it (unfused build)
  int64_t eval_batch = 500;            // evaluation batch (smaller datasets: their size)
  int64_t full_train_metrics = 10000;  // at each point, evaluate the whole training split when it has at
                                       // most this many examples (else: the running means since the last)
  std::string checkpoint_dir;          // "" = none; last.safetensors at every point / checkpoint_every
  int64_t checkpoint_every = 0;        // steps; 0 = at every evaluation point
  int keep_last = 0;  // > 0: also write ckpt-STEP.safetensors each time and keep the newest N (max_to_keep)
  // Data-parallel runs (mpirun -np N): `batch` is the global batch, each rank takes its 1/N slice;
  // gradients are averaged in buckets of about this many bytes (optimizer.h).
  int64_t bucket_bytes = int64_t{1} << 20;
  Metadata metadata;  // added to every checkpoint (e.g. the recipe)
  Feeds feeds;
  // Set (to a signal's number) by runtime/interrupt.h's handlers: the run stops after the current
  // step as at the end — an evaluation point, the checkpoint, the callbacks' on_train_end. One
  // process only (a data-parallel run's ranks could not agree on the step).
  const volatile std::sig_atomic_t* interrupt = nullptr;
};

// One evaluation point (an epoch's end, or a period's when training by steps).
struct PeriodRow {
  int64_t step = 0, epoch = 0;
  double lr = 0, train_loss = 0, val_loss = 0, train_acc = 0, val_acc = 0, steps_per_s = 0;
  bool has_val = false;
};
// A metric of a row by its Keras name: loss, acc, val_loss, val_acc (std::invalid_argument else).
double metric_of(const PeriodRow& r, const std::string& name);
bool metric_higher_is_better(const std::string& name);

struct FitResult {
  std::vector<PeriodRow> history;
  int64_t steps = 0;  // the step reached (a resumed run: counted from 0)
  double seconds = 0, steps_per_s = 0, compile_ms = 0;
  std::string stopped_early;  // the reason, empty if not
  int interrupted = 0;        // the signal that stopped the run (FitConfig::interrupt), 0 if none
  uint64_t checksum = 0;      // FNV-1a of every parameter and optimizer state value at the end
                              // (data-parallel runs: equal on every rank, or the run stops)
};

// Thrown when a training step produces NaN/Inf; names the step and (with check_numerics) the op.
class NumericsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Trainer;

// Keras-style hooks. A callback with state that changes the run (early stopping's patience count,
// a plateau's lr factor) saves it into every checkpoint so a resumed run equals an unbroken one.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Trainer&) {}
  virtual void on_step_end(Trainer&, float /*loss*/) {}
  virtual void on_eval(Trainer&, const PeriodRow&) {}
  virtual void on_train_end(Trainer&) {}
  virtual void save_state(Metadata&) const {}
  virtual void load_state(const Metadata&, const std::string& /*path*/) {}
};

class Trainer {
 public:
  Trainer(std::string name, ModelFn build, FitConfig cfg);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  void add_callback(std::shared_ptr<Callback> cb);
  // Trains on `train`, evaluating on `val` (may be empty) at every point. Named errors before any
  // step: features, labels, a batch the data cannot fill, nothing to train.
  FitResult fit(const Dataset& train, const Dataset& val = {});
  // Continues from a checkpoint this Trainer's graph wrote (weights, optimizer state, loop state,
  // callbacks' state); the next fit() starts at its step.
  void resume(const Checkpoint& c, const std::string& path);

  // Accuracy and log-loss with the evaluation weights (the EMA copies when the optimizer keeps them),
  // over every example of `d`; `logits` (optional) receives [d.n, classes] from the same pass.
  Metrics evaluate(const Dataset& d, std::vector<float>* logits = nullptr);
  // Logits [d.n, classes] with the evaluation weights.
  std::vector<float> predict(const Dataset& d);

  // Trainable parameters; eval: replaced by their EMA copies when present.
  std::vector<NamedTensor> weights(bool eval = true);
  // Parameters and optimizer state (what a checkpoint holds).
  std::vector<NamedTensor> state();
  // Overrides the weights (every trainable parameter must be given) — e.g. the best ones.
  void set_weights(const std::vector<NamedTensor>& w, const std::string& from = "weights");
  // Writes the parameters + optimizer state + loop state as safetensors (atomically). In a
  // data-parallel run every rank calls it (the running sums are reduced) and rank 0 writes.
  void save(const std::string& path, double val_loss = NAN);
  // Data-parallel training (started by mpirun): this process's rank and the number of ranks.
  int rank() const;
  int ranks() const;

  // For callbacks.
  void request_stop(std::string reason) { stop_reason_ = std::move(reason); }
  const std::string& stop_reason() const { return stop_reason_; }
  void scale_lr(double factor) { lr_scale_ *= factor; }
  double lr_scale() const { return lr_scale_; }
  void set_lr_scale(double s) { lr_scale_ = s; }
  float current_lr() const { return lr_; }
  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_; }
  int64_t steps_per_epoch() const { return per_epoch_; }
  bool by_steps() const { return cfg_.steps > 0; }
  bool has_validation() const { return has_val_; }
  int64_t eval_every() const { return eval_every_; }
  double running_loss() const;
  double running_acc() const;
  double seconds() const;
  const FitConfig& config() const { return cfg_; }
  const std::string& name() const { return name_; }
  const Graph& graph() const;
  const TrainStep& train_step() const;
  int64_t start_step() const { return start_step_; }

 private:
  struct Impl;
  void check_data(const Dataset& d, const std::string& what) const;
  void run_step(const Dataset& train, const std::vector<int64_t>& perm);
  PeriodRow eval_point(const Dataset& train, const Dataset& val);
  Metrics run_eval(const std::vector<NamedTensor>& w, const Dataset& d, std::vector<float>* logits);
  void checkpoint(double val_loss);  // last.safetensors, and the numbered one with keep_last
  // Every rank holds the same weights (their checksum, returned), or a named error.
  uint64_t check_ranks_agree(const std::string& when);
  struct RunningSums {
    double loss;  // Σ over steps of the global batch's mean loss
    int64_t correct, count;
  };
  RunningSums global_running();  // the running sums over all ranks (a collective)

  std::string name_;
  ModelFn build_;
  FitConfig cfg_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::string stop_reason_;
  // A callback's stop (early stopping) saved in the checkpoint written when it stopped: a run
  // resumed from that checkpoint stops there too. An interrupt's stop is not saved.
  std::string resumed_stop_;
  bool stop_saved_ = false;
  double lr_scale_ = 1;
  bool has_val_ = false;
  float lr_ = 0;
  int64_t step_ = 0, start_step_ = 0, total_ = 0, per_epoch_ = 1, eval_every_ = 1;
  double run_loss_ = 0;  // running sums since the last evaluation point
  int64_t run_steps_ = 0, run_correct_ = 0, run_count_ = 0;
};

}  // namespace gradc
