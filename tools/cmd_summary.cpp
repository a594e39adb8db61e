// gradc summary MODEL: a Keras-style table of layers, output shapes and parameter counts.
#include "compiler/jit.h"
#include "models/models.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/step_graph.h"

namespace gradc::cli {

void add_summary(CLI::App& app) {
  struct Opts {
    ArchFlags arch;
    std::string model;
    int64_t batch = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("summary", "Print layers, output shapes and parameter counts");
  cmd->add_option("model", o->model, "Model name (" + model_names() + ")")->required();
  o->arch.add(cmd);
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(CLI::Range(1, 1000000000));
  cmd->callback([o] {
    const Arch arch = o->arch.resolve(o->model);
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    auto m = build_model(o->model, mo, arch);
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
    // The compiled training step (SGD), with and without fusion and memory planning.
    StepGraph step = make_step_graph(o->model, mo.batch, {}, &arch);
    CompileOptions unfused;
    unfused.fuse = false;
    unfused.plan_memory = false;
    auto f = compile(step.model->g), u = compile(step.model->g, unfused);
    std::printf(
        "training step program: %zu kernels, %.1f KiB of buffers (fused, planned); without planning %.1f KiB; "
        "unfused and unplanned: %zu kernels, %.1f KiB\n",
        f->plan.kernels.size(), static_cast<double>(f->plan.arena_bytes) / 1024.0,
        static_cast<double>(f->plan.unplanned_bytes) / 1024.0, u->plan.kernels.size(),
        static_cast<double>(u->plan.arena_bytes) / 1024.0);
  });
}

}  // namespace gradc::cli
