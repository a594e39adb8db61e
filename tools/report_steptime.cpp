#include "tools/report_steptime.h"

#include <algorithm>

#include "autodiff/dot.h"
#include "compiler/view.h"
#include "runtime/program.h"
#include "tools/bench_steps.h"
#include "tools/graph_image.h"
#include "tools/peak.h"
#include "tools/step_graph.h"

namespace gradc::cli {

StepTime profile_step(const TrainConfig& c, const std::string& dir) {
  OptimizerConfig opt = c.opt;
  if (c.sum_loss) opt.loss_scale = static_cast<float>(c.batch);
  StepGraph s = make_step_graph(c.model, c.batch, opt, &c.arch);
  CompileOptions co;
  co.fuse = c.fuse;
  co.bf16 = c.bf16;
  co.passes = c.passes;
  Program p(s.model->g, co);
  fill_inputs(p);
  StepTime st;
  p.set_threads(c.threads);
  st.threads = p.threads();
  const std::vector<double> us = p.profile_kernels(15);
  st.peak_gflops = target_fma_peak(st.threads);
  const auto& ks = p.code().plan.kernels;
  for (size_t k = 0; k < ks.size(); ++k) {
    std::vector<int> ids = ks[k].fused;
    ids.push_back(ks[k].node);
    KernelTime t{k, ks[k].copy_from >= 0 ? "update copy" : kernel_ops_label(p.code().graph, ids), us[k], 0, 0};
    t.gflops = us[k] > 0 ? ks[k].flops / us[k] / 1e3 : 0;
    t.peak_pct = 100 * t.gflops / st.peak_gflops;
    st.total_us += us[k];
    st.kernels.push_back(t);
  }
  std::sort(st.kernels.begin(), st.kernels.end(), [](const KernelTime& a, const KernelTime& b) { return a.us > b.us; });
  render_dot(dot_after(s.model->g, co, "fuse"), dir + "/step.svg");
  st.picture = "step.svg";
  return st;
}

}  // namespace gradc::cli
