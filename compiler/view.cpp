#include "compiler/view.h"

#include <algorithm>
#include <stdexcept>

#include "autodiff/dot.h"
#include "compiler/pipeline.h"
#include "compiler/plan.h"

namespace gradc {

namespace {
// Which kernel computes each node of `g` under the plan compile() would make.
std::vector<int> kernel_clusters(const Graph& g, const CompileOptions& opt) {
  PlanOptions po;
  po.fuse_elementwise = po.implicit_gemm = opt.fuse;
  po.bf16 = opt.bf16;
  po.plan_memory = opt.plan_memory;
  po.target = opt.target ? &*opt.target : nullptr;
  const Plan plan = make_plan(g, po);
  std::vector<int> kernel_of(g.size(), -1);
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    const KernelInfo& ki = plan.kernels[k];
    if (ki.copy_from >= 0) continue;  // parameter-update copies compute nothing new
    kernel_of[static_cast<size_t>(ki.node)] = static_cast<int>(k);
    for (int f : ki.fused) kernel_of[static_cast<size_t>(f)] = static_cast<int>(k);
  }
  return kernel_of;
}
}  // namespace

CompilerView view_after(const Graph& g, const CompileOptions& opt, const std::string& after) {
  const PassPipeline pipeline = pipeline_for(opt);
  const bool all = after.empty() || after == "fuse";
  if (!all && !pipeline.contains(after)) {
    find_pass(after);  // an unknown name: throws listing the known passes
    throw std::invalid_argument("gradc: pass '" + after + "' is not in the pipeline (" + pipeline.describe() + ")");
  }
  PipelineOptions po;
  po.stop_after = all ? "" : after;
  std::vector<PassRun> log;
  CompilerView v;
  v.g = pipeline.run(g, opt.target ? *opt.target : default_target(), po, &log).g;
  for (const PassRun& r : log) v.passes.push_back(r.name);
  if (all && opt.fuse) v.kernel_of = kernel_clusters(v.g, opt);
  return v;
}

std::string dot_after(const Graph& g, const CompileOptions& opt, const std::string& after) {
  const CompilerView v = view_after(g, opt, after);
  return to_dot(v.g, v.kernel_of.empty() ? nullptr : &v.kernel_of);
}

}  // namespace gradc
