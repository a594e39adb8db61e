#include <stdexcept>

#include "models/models.h"

namespace gradc {

const std::vector<ModelSpec>& model_registry() {
  static const std::vector<ModelSpec> kModels = {
      {"linear", "softmax regression 784-10", 30, build_linear},
      {"dnn", "784-100-100-10 ReLU classifier", 30, build_dnn},
      {"mlp512", "784-512-512-512-10 ReLU, dropout 0.2", 128, build_mlp512},
      {"mlp500", "784-500-10 ReLU", 100, build_mlp500},
      {"cnn", "conv 28x3x3 + dense 128 + dense 10", 100, build_cnn},
      {"logic", "one sigmoid neuron (AND/OR gates)", 4, build_logic},
  };
  return kModels;
}

std::string model_names() {
  std::string s;
  for (const ModelSpec& m : model_registry()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

const ModelSpec& find_model(const std::string& name) {
  for (const ModelSpec& m : model_registry())
    if (m.name == name) return m;
  throw std::invalid_argument("gradc: unknown model '" + name + "' (known: " + model_names() + ")");
}

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt) {
  const ModelSpec& spec = find_model(name);
  auto m = std::make_unique<Model>();
  m->g.seed = opt.seed;
  m->g.name = name;
  spec.build(*m, opt);
  m->g.mark_output(m->loss, "loss");
  m->g.mark_output(m->logits, "logits");
  return m;
}

}  // namespace gradc
