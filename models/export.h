// A trained model as an ahead-of-time compiled object (compiler/aot.h): the inference graph of a
// registered model at a fixed batch, with a checkpoint's weights.
#pragma once
#include <string>
#include <vector>

#include "autodiff/optim.h"
#include "compiler/aot.h"
#include "models/models.h"
#include "runtime/checkpoint.h"

namespace gradc {

struct ExportRequest {
  std::string model;  // a registered model name
  Arch arch;          // its architecture (models/train.h arch_of reads a checkpoint's)
  std::vector<NamedTensor> weights;
  std::string source;  // names the weights in errors (the checkpoint's path)
  int64_t batch = 100;
  AotSpec aot;  // prefix, embedding, threads; input, output and params are filled in
  CompileOptions compile;
  // A training step (forward, backward, `opt`'s update) instead of predict. Optimizer state the
  // weights lack (a final.safetensors holds none) starts as a fresh run's does.
  bool train_step = false;
  OptimizerConfig opt;
  bool sum_loss = false;  // the recipe differentiates the batch's summed loss
};

// The optimizer a checkpoint was trained with, from its "recipe.*" metadata (the model's recipe
// for fields it lacks); `sum_loss` receives its loss reduction. DataError naming `path` on a field
// that does not parse.
OptimizerConfig checkpoint_optimizer(const Checkpoint& c, const std::string& model, const std::string& path,
                                     bool* sum_loss);

// Builds `model` for inference at `batch` with only its logits as output (or its training step),
// checks the weights against it (DataError naming `source`), and compiles it with its driver.
AotModule export_model(ExportRequest req);

}  // namespace gradc
