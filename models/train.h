// The CLI's training runs: a registered model, its data split, and the recipe's callbacks on the
// one Trainer (models/trainer.h). recipe() gives each tutorial model's hyperparameters.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/data_split.h"
#include "models/trainer.h"

namespace gradc {

struct TrainConfig : FitConfig, DataConfig {
  TrainConfig() {
    batch = 30;
    lr = 0.05f;
  }
  std::string model = "dnn";
  Arch arch;                         // the model's layer shapes (recipe(): the spec's defaults)
  bool keep_best = false;            // restore (and save best.safetensors) at the lowest val loss
  bool early_stop = false;           // stop when `monitor` stops improving ...
  std::string monitor = "acc";       // ... (and the plateau's metric): loss, acc, val_loss, val_acc
  int patience = 0;                  // points without improvement before acting (0 or 1: the first)
  double plateau_factor = 0;         // > 0: reduce the lr by this factor on a plateau of `monitor`
  std::string csv_log;               // also log every point to this CSV file
  std::string resume_dir;            // continue from <dir>/last.safetensors
  bool allow_recipe_change = false;  // resume a checkpoint trained with another recipe (models/resume.h)
  std::string data_fingerprint;      // set by train(): the training split's checksum, part of the recipe
  bool verbose = true;
  bool keep_test_logits = false;  // TrainResult::test_logits (a report's most confident mistakes)
  // More callbacks (a report, the user's own), run after the recipe's at every event.
  std::vector<std::shared_ptr<Callback>> callbacks;
};

struct TrainResult : FitResult {
  Metrics val, test;
  // Wall time from the loaded data to the test figures (the speedrun's clock: compile, training,
  // evaluation and everything between), and of the final evaluations alone.
  double to_test_seconds = 0, eval_seconds = 0;
  double load_seconds = 0;                // reading and splitting the data
  std::vector<NamedTensor> final_params;  // the weights used for evaluation
  int64_t kept_step = 0;                  // keep-best restored the weights of this step (0: the last weights)
  std::vector<float> test_logits;         // [test.n, classes] of the evaluated weights, with keep_test_logits
};

TrainConfig recipe(const std::string& model, const std::string& preset = "");

// Every hyperparameter of a run as (name, value) rows for people — `gradc models`, the report —
// with units and no spurious digits ("0.001", "16 epochs", "20% of the training images").
// `brief`: only what differs from plain defaults (off, 0, none), for one-line recipe summaries.
std::vector<std::pair<std::string, std::string>> hyperparameters(const TrainConfig& c, bool brief = false);
TrainResult train(TrainConfig cfg);

// Evaluates a registered model's forward graph with the given weights on a dataset (every
// example; the last partial batch counts). `source`: where the weights came from, named in errors.
Metrics evaluate(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights, const Dataset& d,
                 EngineKind engine = EngineKind::Jit, int threads = 0, const std::string& source = "weights",
                 std::vector<float>* logits = nullptr);  // receives [d.n, C] when given

// Class probabilities of the first example of `d`: the softmax of its logits, or for a one-vs-all
// model each class's sigmoid (they need not sum to 1).
std::vector<double> predict_probs(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights,
                                  const Dataset& d, const std::string& source = "weights");

// The saliency of the first example of `d` for class `cls`: ∂ logit[cls] / ∂ x, one value per input
// feature, computed by the graph's own autodiff (the model at batch 1, inference mode).
std::vector<float> input_gradient(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights,
                                  const Dataset& d, int cls, const std::string& source = "weights");

// The architecture a checkpoint of `model` was trained with (its "arch" metadata; the model's
// defaults when absent). Throws DataError naming `path` when the field does not parse.
Arch arch_of(const Checkpoint& c, const std::string& model, const std::string& path);

}  // namespace gradc
