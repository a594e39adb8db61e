// The training-step graph of a model as the CLI compiles and benchmarks it.
#pragma once
#include <memory>

#include "autodiff/optim.h"
#include "models/models.h"

namespace gradc::cli {

struct StepGraph {
  std::unique_ptr<Model> model;
  TrainStep step;
};

// Forward + backward + the given optimizer's update (default: plain SGD, as in the PyTorch
// per-step reference figures), all in one graph. With opt.ranks > 1: one rank's step of a
// data-parallel run (`batch` is then that rank's slice), allreduce nodes included.
inline StepGraph make_step_graph(const std::string& name, int64_t batch, OptimizerConfig opt = {},
                                 const Arch* arch = nullptr) {
  StepGraph s;
  s.model = build_model(name, {.batch = batch, .training = true}, arch ? *arch : find_model(name).arch);
  s.step = add_optimizer(s.model->loss, opt);
  return s;
}

}  // namespace gradc::cli
