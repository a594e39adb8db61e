#include "tools/report_steptime.h"

#include <algorithm>

#include "compiler/view.h"
#include "runtime/program.h"
#include "tools/bench_steps.h"
#include "tools/graph_image.h"
#include "tools/peak.h"
#include "tools/step_graph.h"

namespace gradc::cli {

namespace {
// "matmul+add+relu" of kernel k: the node it produces and the ones fused into it, in graph order.
std::string kernel_ops(const Graph& g, const KernelInfo& k) {
  if (k.copy_from >= 0) return "update copy";
  std::vector<int> ids = k.fused;
  ids.push_back(k.node);
  std::sort(ids.begin(), ids.end());
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : "+") + std::string(op_name(g.node(id).op));
  return s;
}
}  // namespace

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
    KernelTime t{k, kernel_ops(p.code().graph, ks[k]), us[k], 0, 0};
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
