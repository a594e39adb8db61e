// gradc models: every registered model with its parameter count and its recipe's defaults.
#include "models/metadata.h"
#include "models/models.h"
#include "models/train.h"
#include "tools/commands.h"

namespace gradc::cli {

namespace {
int64_t param_count(const ModelSpec& spec) {
  auto m = build_model(spec.name, {.batch = spec.default_batch}, spec.arch);
  int64_t n = 0;
  for (const Tensor& p : m->g.params()) n += p.node().shape.numel();
  return n;
}

// "key: value" items joined by ", ", wrapped at 100 columns under a 9-column indent.
std::string recipe_text(const std::string& model) {
  if (model == "logic") return "full-batch gradient descent on the truth table, learning rate 200, 401 steps";
  std::string s, line;
  for (const auto& [k, v] : hyperparameters(recipe(model), true)) {
    const std::string item = k + ": " + v;
    if (!line.empty() && line.size() + item.size() + 2 > 91) {
      s += line + ",\n         ";
      line.clear();
    }
    line += (line.empty() ? "" : ", ") + item;
  }
  return s + line;
}
}  // namespace

void add_models(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("models", "List the models: parameters and the recipe `gradc train MODEL` uses by default");
  cmd->callback([] {
    for (const ModelSpec& spec : model_registry()) {
      std::printf("%-8s %s — %s parameters\n", spec.name.c_str(), spec.summary.c_str(),
                  grouped(param_count(spec)).c_str());
      std::printf("         %s\n", recipe_text(spec.name).c_str());
      if (spec.kind == ArchKind::Mlp) std::printf("         flags: --hidden W1,W2,... --activation A --dropout P\n");
      if (spec.kind == ArchKind::Cnn) std::printf("         flags: --filters F --kernel K --dense D\n");
    }
    std::printf("Every recipe value is a `gradc train` flag; `gradc summary MODEL` shows the layers.\n");
  });
}

}  // namespace gradc::cli
