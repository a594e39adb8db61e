#include <stdexcept>

#include "models/models.h"
#include "runtime/spelling.h"

namespace gradc {

namespace {
// A fixed-architecture builder as a registry entry.
std::function<void(Model&, const ModelOptions&, const Arch&)> fixed(void (*f)(Model&, const ModelOptions&)) {
  return [f](Model& m, const ModelOptions& o, const Arch&) { f(m, o); };
}

std::vector<ModelSpec>& registry() {
  static std::vector<ModelSpec> models = [] {
    Arch mlp;
    mlp.hidden = {128};
    Arch convnet;
    convnet.conv = {32, 64};
    Arch speedrun;
    speedrun.conv = {16, 32};
    return std::vector<ModelSpec>{
        {"linear", "softmax regression 784-10", 30, ArchKind::Fixed, {}, fixed(build_linear)},
        {"dnn", "784-100-100-10 ReLU classifier", 30, ArchKind::Fixed, {}, fixed(build_dnn)},
        {"mlp512", "784-512-512-512-10 ReLU, dropout 0.2", 128, ArchKind::Fixed, {}, fixed(build_mlp512)},
        {"mlp500", "784-500-10 ReLU", 100, ArchKind::Fixed, {}, fixed(build_mlp500)},
        {"mlp", "784-H1-...-10 MLP (--hidden, --activation, --dropout)", 32, ArchKind::Mlp, mlp, build_mlp},
        {"cnn",
         "conv FxKxK + dense D + dense 10 (--filters 28 --kernel 3 --dense 128)",
         100,
         ArchKind::Cnn,
         {},
         build_cnn},
        {"convnet",
         "Keras's MNIST convnet: conv 32 3x3, max-pool 2, conv 64 3x3, max-pool 2, dropout 0.5, dense 10 "
         "(--conv 32,64 --pool max|avg --batch-norm)",
         128, ArchKind::Convnet, convnet, build_convnet},
        {"speedrun",
         "MNIST to 99 % fast: conv 16 3x3, max-pool 2, conv 32 3x3, max-pool 2, dense 10, no dropout "
         "(--conv 16,32 --pool max|avg --batch-norm)",
         128, ArchKind::Convnet, speedrun, build_speedrun},
        {"logic", "one sigmoid neuron (AND/OR gates)", 4, ArchKind::Fixed, {}, fixed(build_logic)},
        {"ova",
         "one-vs-all: ten sigmoid classifiers 784-10, trained and compared with softmax (linear)",
         30,
         ArchKind::Fixed,
         {},
         fixed(build_ova)},
    };
  }();
  return models;
}
}  // namespace

ModelFn ModelSpec::fn(const Arch& a) const {
  check_arch(a, kind);
  return [b = build, a](Model& m, const ModelOptions& o) { b(m, o, a); };
}

const std::vector<ModelSpec>& model_registry() { return registry(); }

void register_model(ModelSpec spec) {
  for (const ModelSpec& m : registry())
    if (m.name == spec.name) throw std::invalid_argument("gradc: a model named '" + spec.name + "' is registered");
  registry().push_back(std::move(spec));
}

std::string model_names() {
  std::string s;
  for (const ModelSpec& m : model_registry()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

const ModelSpec& find_model(const std::string& name) {
  for (const ModelSpec& m : model_registry())
    if (m.name == name) return m;
  std::vector<std::string> names;
  for (const ModelSpec& m : model_registry()) names.push_back(m.name);
  const std::string near = nearest_word(name, names);
  throw std::invalid_argument("gradc: unknown model '" + name + "'" +
                              (near.empty() ? "" : "; did you mean " + near + "?") + " (known: " + model_names() + ")");
}

std::string canonical_model_name(const std::string& name) {
  for (const ModelSpec& m : model_registry())
    if (m.name.size() == name.size() && edit_distance(m.name, name) == 0) return m.name;  // any letter case
  return find_model(name).name;                                                           // throws, with a suggestion
}

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt, const Arch& arch) {
  const ModelSpec& spec = find_model(name);
  check_arch(arch, spec.kind);
  auto m = std::make_unique<Model>();
  m->g.seed = opt.seed;
  m->g.name = name;
  spec.build(*m, opt, arch);
  m->g.mark_output(m->loss, "loss");
  m->g.mark_output(m->logits, "logits");
  return m;
}

std::unique_ptr<Model> build_model(const std::string& name, const ModelOptions& opt) {
  return build_model(name, opt, find_model(name).arch);
}

}  // namespace gradc
