// gradc step MODEL: one SGD step on a real MNIST batch with the reference interpreter (loss before
// and after), plus the gradient graph as SVG. A smoke test of the whole foundation on real data.
#include <chrono>

#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "models/models.h"
#include "runtime/dataset.h"
#include "runtime/interpreter.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/graph_image.h"

namespace gradc::cli {

void add_step(CLI::App& app) {
  struct Opts {
    ArchFlags arch;
    std::string model = "dnn", data, svg;
    int64_t batch = 0;
    float lr = 0.1f;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("step", "One SGD step on an MNIST batch with the reference interpreter");
  add_model_positional(cmd, o->model, "Model name (" + model_names() + ", any letter case)")->capture_default_str();
  o->arch.add(cmd);
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(int_range(1, 1000000000));
  cmd->add_option("--lr", o->lr, "SGD learning rate")->capture_default_str()->check(finite_float(0, 1e6, Bound::Open));
  cmd->add_option("--data", o->data, "MNIST directory (default: $GRADC_DATA/mnist or data/mnist)");
  cmd->add_option("--svg", o->svg, "Also write the gradient graph here (.svg/.png/.dot)");
  cmd->callback([o] {
    const Arch arch = o->arch.resolve(o->model);
    if (o->model == "logic") throw UsageError("gradc step: 'logic' has no MNIST input; pick an MNIST model");
    ModelOptions mo;
    mo.batch = o->batch ? o->batch : find_model(o->model).default_batch;
    auto m = build_model(o->model, mo, arch);
    std::vector<Tensor> ps = m->g.params();
    std::vector<Tensor> gs = grad(m->loss, ps);
    for (size_t i = 0; i < gs.size(); ++i) m->g.mark_output(gs[i], "grad/" + ps[i].node().name);

    Dataset d = slice(load_mnist_dir(o->data.empty() ? default_mnist_dir() : o->data, "train"), 0, mo.batch);
    check_features(d, m->g.node(m->g.find_id("x")).shape.numel() / mo.batch, "model '" + o->model + "'");
    Interpreter it(m->g);
    it.set_input("x", d.x);
    it.set_input_i32("y", d.y);
    if (m->g.find_id("dropout_key") >= 0) it.set_input_i32("dropout_key", {1});
    auto t0 = std::chrono::steady_clock::now();
    it.run();
    auto t1 = std::chrono::steady_clock::now();
    const float before = it.value(m->loss.id).f[0];
    for (size_t i = 0; i < ps.size(); ++i) {
      std::vector<float>& w = it.value(ps[i].id).f;
      const std::vector<float>& dw = it.value(gs[i].id).f;
      for (size_t k = 0; k < w.size(); ++k) w[k] -= o->lr * dw[k];
    }
    it.run();
    const float after = it.value(m->loss.id).f[0];
    std::printf("%s: %zu graph nodes (%zu parameters), batch %lld of MNIST train\n", o->model.c_str(), m->g.size(),
                ps.size(), static_cast<long long>(mo.batch));
    std::printf("loss before: %.6f\nloss after one SGD step (lr %g): %.6f\n", before, static_cast<double>(o->lr),
                after);
    std::printf("reference interpreter: %.1f ms per forward+backward\n",
                std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!o->svg.empty()) {
      render_dot(to_dot(m->g), o->svg);
      std::printf("wrote %s\n", o->svg.c_str());
    }
  });
}

}  // namespace gradc::cli
