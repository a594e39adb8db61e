// gradc summary MODEL [--compiled]: a Keras-style table of layers, output shapes and parameter counts.
#include "compiler/jit.h"
#include "models/models.h"
#include "models/summary.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/step_graph.h"

namespace gradc::cli {

void add_summary(CLI::App& app) {
  struct Opts {
    ArchFlags arch;
    std::string model;
    int64_t batch = 0;
    bool compiled = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("summary", "Print layers, output shapes and parameter counts");
  add_model_positional(cmd, o->model, "Model name (" + model_names() + ", any letter case)")->required();
  o->arch.add(cmd);
  cmd->add_flag("--compiled", o->compiled, "Also compile the training step: kernels and buffer KiB");
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(int_range(1, 1000000000));
  cmd->callback([o] {
    const Arch arch = o->arch.resolve(o->model);
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    auto m = build_model(o->model, mo, arch);
    std::printf("%s", summary(m->g).c_str());
    if (!o->compiled) return;
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
