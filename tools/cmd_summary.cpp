// gradc summary MODEL: a Keras-style table of layers, output shapes and parameter counts.
#include "models/models.h"
#include "tools/commands.h"

namespace gradc::cli {

void add_summary(CLI::App& app) {
  struct Opts {
    std::string model;
    int64_t batch = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("summary", "Print layers, output shapes and parameter counts");
  cmd->add_option("model", o->model, "Model name (" + model_names() + ")")->required();
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(CLI::Range(1, 1000000000));
  cmd->callback([o] {
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    auto m = build_model(o->model, mo);
    std::printf("model %s: %s (batch %lld)\n", o->model.c_str(), find_model(o->model).summary.c_str(),
                static_cast<long long>(mo.batch));
    std::printf("%-4s %-16s %-22s %-18s %s\n", "id", "op", "name", "output shape", "params");
    int64_t total = 0;
    for (const Node& n : m->g.nodes()) {
      if (n.op == Op::Constant) continue;
      int64_t count = n.op == Op::Parameter ? n.shape.numel() : 0;
      total += count;
      std::printf("%-4d %-16s %-22s %-18s %s\n", n.id, op_name(n.op), n.name.c_str(), n.shape.str().c_str(),
                  count ? std::to_string(count).c_str() : "");
    }
    std::string t = std::to_string(total), grouped;
    for (size_t i = 0; i < t.size(); ++i) {
      if (i && (t.size() - i) % 3 == 0) grouped += ',';
      grouped += t[i];
    }
    std::printf("total parameters: %s\n", grouped.c_str());
  });
}

}  // namespace gradc::cli
