// gradc dot MODEL [--grad] -o FILE.svg|.png|.dot
#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "models/models.h"
#include "tools/commands.h"

namespace gradc::cli {

void add_dot(CLI::App& app) {
  struct Opts {
    std::string model, out;
    bool grad = false;
    int64_t batch = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("dot", "Render a model's graph (forward, or with --grad the gradient graph too)");
  cmd->add_option("model", o->model, "Model name (" + model_names() + ")")->required();
  cmd->add_option("-o,--output", o->out, "Output file: .svg, .png or .dot")->required();
  cmd->add_flag("--grad", o->grad, "Append the gradient nodes of the loss w.r.t. every parameter");
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(CLI::PositiveNumber);
  cmd->callback([o] {
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    auto m = build_model(o->model, mo);
    if (o->grad) {
      std::vector<Tensor> ps = m->g.params();
      std::vector<Tensor> gs = grad(m->loss, ps);
      for (size_t i = 0; i < gs.size(); ++i) m->g.mark_output(gs[i], "grad/" + ps[i].node().name);
    }
    render_dot(to_dot(m->g), o->out);
    std::printf("wrote %s (%zu nodes)\n", o->out.c_str(), m->g.size());
  });
}

}  // namespace gradc::cli
