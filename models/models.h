// The tutorial models as graph programs. Each builder makes the forward graph and its loss; the
// trainer adds gradients and the optimizer on top.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

struct ModelOptions {
  int64_t batch = 30;
  bool training = true;  // dropout active
  uint64_t seed = 42;
};

// Tensors point into `g`, so a Model never moves: it lives behind a unique_ptr.
struct Model {
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Graph g;
  Tensor logits;  // [B, classes] (logic: [4, 1])
  Tensor loss;    // scalar
};

struct ModelSpec {
  std::string name;
  std::string summary;
  int64_t default_batch;
  std::function<void(Model&, const ModelOptions&)> build;
};

const std::vector<ModelSpec>& model_registry();
// Throws std::invalid_argument listing the known names when `name` is unknown.
const ModelSpec& find_model(const std::string& name);
std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt);
std::string model_names();  // "linear, dnn, ..."

void build_linear(Model& m, const ModelOptions& opt);
void build_dnn(Model& m, const ModelOptions& opt);
void build_mlp512(Model& m, const ModelOptions& opt);
void build_mlp500(Model& m, const ModelOptions& opt);
void build_cnn(Model& m, const ModelOptions& opt);
void build_logic(Model& m, const ModelOptions& opt);

}  // namespace gradc

namespace gradc {

// The logic-gate tutorial: full-batch gradient descent on the 4 rows of a truth table.
struct LogicResult {
  std::vector<float> weights;  // w1, w2, bias weight
  std::vector<float> outputs;  // sigmoid(x·w) per row
  std::vector<int> expected;   // the gate's truth table
  bool exact = false;          // every rounded output equals the truth table
  float final_loss = 0;
};
LogicResult train_logic(const std::string& gate, float lr, int steps, uint64_t seed, int engine_kind /*0 jit, 1 ref*/);

}  // namespace gradc
