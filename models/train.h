// Training and evaluation of the MNIST models: data split, shuffled fixed-shape batches (the last
// incomplete batch of an epoch is dropped), the compiled training step, schedules, periodic
// evaluation, best-only and periodic safetensors checkpoints, early stopping, EMA evaluation.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autodiff/optim.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/metrics.h"

namespace gradc {

struct Schedule {
  enum class Kind { Constant, Exponential, PerEpoch } kind = Kind::Constant;
  float rate = 1.f;  // Exponential: lr·rate^(step/decay_steps); PerEpoch: lr·rate^epoch
  int64_t decay_steps = 1000;
  bool staircase = false;  // Exponential: integer division of step/decay_steps
  float lr_at(float base, int64_t step, int64_t epoch) const;
};
Schedule::Kind parse_schedule(const std::string& s);

struct TrainConfig {
  std::string model = "dnn";
  int64_t batch = 30;
  bool sum_loss = false;  // differentiate the batch's summed loss (TF1 estimators) instead of its mean
  int64_t steps = 0;      // > 0: train this many steps ...
  int64_t epochs = 0;     // ... else this many epochs
  int periods = 10;       // evaluation/report points when training by steps
  float lr = 0.05f;
  OptimizerConfig opt;
  Schedule schedule;
  uint64_t seed = 42;
  int threads = 0;  // 0 = OpenMP default
  EngineKind engine = EngineKind::Jit;
  std::string dataset = "mnist";     // or fashion-mnist
  std::string data_dir;              // default $GRADC_DATA or ./data
  int64_t first_n = 0;               // use only the first N training images (0 = all)
  bool shuffle_split = false;        // permute those (seeded) before splitting, as the MLCC notebook does
  int64_t train_n = 0, val_n = 0;    // explicit split sizes (from the front) ...
  double val_fraction = 0;           // ... or the last fraction as validation
  int64_t test_n = 0;                // evaluate on the first N test images (0 = all 10k)
  std::string checkpoint_dir;        // empty = no checkpoints
  int64_t checkpoint_every = 0;      // steps; 0 = only at the end
  bool keep_best = false;            // restore (and save best.safetensors) at the lowest val loss
  bool early_stop = false;           // stop when the epoch's train accuracy drops
  bool check_numerics = false;       // on NaN/Inf: name the first op that produced it (compiles unfused,
                                     // one buffer per node, so every intermediate can be inspected)
  bool fuse = true;                  // compiler fusion (--no-fuse to compare)
  std::vector<std::string> passes;   // explicit pass pipeline (--passes)
  std::string resume_dir;            // continue from <dir>/last.safetensors
  bool allow_recipe_change = false;  // resume a checkpoint trained with another recipe (models/resume.h)
  bool verbose = true;
  // Called after every evaluation point (for reports); may be empty.
  std::function<void(const struct PeriodRow&)> on_period;
  // Called with the trainable weights after each of these steps (report weight grids).
  std::vector<int64_t> snapshot_steps;
  std::function<void(int64_t step, const std::vector<NamedTensor>& weights)> on_snapshot;
};

struct PeriodRow {
  int64_t step = 0, epoch = 0;
  double lr = 0, train_loss = 0, val_loss = 0, train_acc = 0, val_acc = 0, steps_per_s = 0;
};

struct TrainResult {
  std::vector<PeriodRow> history;
  Metrics val, test;
  int64_t steps = 0;
  double seconds = 0, steps_per_s = 0, compile_ms = 0;
  std::string stopped_early;              // reason, empty if not
  std::vector<NamedTensor> final_params;  // the weights used for evaluation
};

// Thrown when a training step produces NaN/Inf; names the step and (with check_numerics) the op.
class NumericsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

TrainConfig recipe(const std::string& model, const std::string& preset = "");
TrainResult train(TrainConfig cfg);

// Evaluates the model's forward graph with the given weights on a dataset.
// `source`: where the weights came from (a checkpoint's path), named in errors.
Metrics evaluate(const std::string& model, const std::vector<NamedTensor>& weights, const Dataset& d,
                 EngineKind engine = EngineKind::Jit, int threads = 0, const std::string& source = "weights");

// Softmax probabilities of the first example of `d`.
std::vector<double> predict_probs(const std::string& model, const std::vector<NamedTensor>& weights, const Dataset& d,
                                  const std::string& source = "weights");

// Loads the dataset split "train" or "test" by name (mnist | fashion-mnist) from data_dir.
Dataset load_named(const std::string& dataset, const std::string& data_dir, const std::string& split);

}  // namespace gradc
