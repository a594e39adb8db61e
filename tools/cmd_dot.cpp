// gradc dot MODEL [--grad|--step] [--after PASS] -o FILE.svg|.png|.dot
#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "compiler/view.h"
#include "models/models.h"
#include "models/train.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/graph_image.h"
#include "tools/step_graph.h"

namespace gradc::cli {

void add_dot(CLI::App& app) {
  struct Opts {
    ArchFlags arch;
    std::string model, out, after;
    bool grad = false, step = false;
    int64_t batch = 0;
    int ranks = 1;
    CompileFlags flags;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("dot", "Render a model's graph, optionally after compiler passes");
  add_model_positional(cmd, o->model, "Model name (" + model_names() + ", any letter case)")->required();
  o->arch.add(cmd);
  cmd->add_option("-o,--output", o->out, "Output file: .svg, .png or .dot")->required();
  auto* g = cmd->add_flag("--grad", o->grad, "Append the gradient nodes of the loss w.r.t. every parameter");
  cmd->add_flag("--step", o->step,
                "The whole training step: gradients and the recipe's optimizer (Adagrad + clipping for dnn, RMSprop "
                "for mlp512, ...)")
      ->excludes(g);
  cmd->add_option(
      "--after", o->after,
      "Run the pass pipeline up to this pass first ('fuse' = the whole pipeline; fused kernels drawn as clusters)");
  o->flags.add(cmd);
  add_ranks_flag(cmd, o->ranks);
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(int_range(1, 1000000000));
  cmd->callback([o] {
    check_output_file(o->out, "-o");
    const Arch arch = o->arch.resolve(o->model);
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    std::unique_ptr<Model> m;
    if (o->ranks > 1 && !o->step) throw UsageError("gradc: --ranks draws a training step: add --step");
    if (o->step) {
      OptimizerConfig opt = recipe(o->model).opt;
      opt.ranks = o->ranks;
      m = make_step_graph(o->model, local_batch(mo.batch, o->ranks), opt, &arch).model;
    } else {
      m = build_model(o->model, mo, arch);
      if (o->grad) {
        std::vector<Tensor> ps = m->g.params();
        std::vector<Tensor> gs = grad(m->loss, ps);
        for (size_t i = 0; i < gs.size(); ++i) m->g.mark_output(gs[i], "grad/" + ps[i].node().name);
      }
    }
    const CompilerView v =
        o->after.empty() ? CompilerView{m->g, {}, {}} : view_after(m->g, o->flags.options(), o->after);
    render_dot(to_dot(v.g, v.kernel_of.empty() ? nullptr : &v.kernel_of, true), o->out);
    std::printf("wrote %s (%zu nodes)\n", o->out.c_str(), v.g.size());
  });
}

}  // namespace gradc::cli
