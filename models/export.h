// A trained model as an ahead-of-time compiled object (compiler/aot.h): the inference graph of a
// registered model at a fixed batch, with a checkpoint's weights.
#pragma once
#include <string>
#include <vector>

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
};

// Builds `model` for inference at `batch` with only its logits as output, checks the weights
// against it (DataError naming `source`), and compiles it with its driver.
AotModule export_model(ExportRequest req);

}  // namespace gradc
