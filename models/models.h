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

// The shape of a model family, set by flags (gradc train mlp --hidden 256,128 --activation tanh
// --dropout 0.2; cnn --filters --kernel --dense). Each model's defaults are its spec's.
struct Arch {
  std::vector<int64_t> hidden;       // mlp: the hidden layers' widths
  std::string activation = "relu";   // mlp: a name of activations() (autodiff/dsl.h)
  float dropout = 0;                 // mlp: after each hidden layer
  int64_t filters = 28, kernel = 3;  // cnn: the convolution
  int64_t dense = 128;               // cnn: the dense layer
  std::vector<int64_t> conv;         // convnet: each 3×3 convolution's filters, a pooling after each
  std::string pool = "max";          // convnet: max | avg
  bool batch_norm = false;           // convnet: batch_norm between each convolution and its ReLU
  bool operator==(const Arch&) const = default;
};
enum class ArchKind { Fixed, Mlp, Cnn, Convnet };  // which flags a model takes
// "hidden=256,128 activation=tanh dropout=0.2" (the fields kind uses), for metadata and headers.
std::string arch_text(const Arch& a, ArchKind kind);
// Parses arch_text; throws std::invalid_argument naming the bad field.
Arch parse_arch(const std::string& text, ArchKind kind);
// Shape errors before any graph is built: widths >= 1, dropout in [0, 1), a kernel that fits 28×28.
void check_arch(const Arch& a, ArchKind kind);

// Tensors point into `g`, so a Model never moves: it lives behind a unique_ptr.
// How a model's logits score the classes: a softmax over them, or one independent sigmoid per
// class (one-vs-all). Metrics, predictions and reports read it.
enum class Head { Softmax, OneVsAll };

struct Model {
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Graph g;
  Tensor logits;  // [B, classes] (logic: [4, 1])
  Tensor loss;    // scalar
  Head head = Head::Softmax;
};

using ModelFn = std::function<void(Model&, const ModelOptions&)>;

struct ModelSpec {
  std::string name;
  std::string summary;
  int64_t default_batch;
  ArchKind kind = ArchKind::Fixed;
  Arch arch;  // the defaults of its flags
  std::function<void(Model&, const ModelOptions&, const Arch&)> build;
  // The builder with `arch` bound (the Trainer's and Evaluator's ModelFn).
  ModelFn fn(const Arch& a) const;
  ModelFn fn() const { return fn(arch); }
};

// Adds a model to the registry (a user's own, so that train/eval/summary/dot reach it by name).
// Throws std::invalid_argument if the name is taken.
void register_model(ModelSpec spec);

const std::vector<ModelSpec>& model_registry();
// Throws std::invalid_argument listing the known names when `name` is unknown.
const ModelSpec& find_model(const std::string& name);
// The registered spelling of a model name typed in any letter case ("DNN" -> "dnn"); an unknown
// name throws std::invalid_argument suggesting the nearest one.
std::string canonical_model_name(const std::string& name);
std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt);
std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt, const Arch& arch);
std::string model_names();  // "linear, dnn, ..."

void build_linear(Model& m, const ModelOptions& opt);
void build_dnn(Model& m, const ModelOptions& opt);
void build_mlp512(Model& m, const ModelOptions& opt);
void build_mlp500(Model& m, const ModelOptions& opt);
void build_mlp(Model& m, const ModelOptions& opt, const Arch& arch);  // any widths and activation
void build_cnn(Model& m, const ModelOptions& opt, const Arch& arch);
void build_convnet(Model& m, const ModelOptions& opt, const Arch& arch);
void build_speedrun(Model& m, const ModelOptions& opt, const Arch& arch);  // convnet blocks, no dropout
void build_logic(Model& m, const ModelOptions& opt);
void build_ova(Model& m, const ModelOptions& opt);  // ten one-vs-all sigmoid classifiers

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
