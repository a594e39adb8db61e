#include "compiler/plan.h"

#include <algorithm>
#include <cstring>

#include "compiler/plan_steps.h"

namespace gradc {

Plan make_plan(const Graph& g, const PlanOptions& opt) {
  PlanState st(g, opt);
  st.liveness();
  st.elementwise_fusion();
  st.implicit_gemm();
  st.packed_transposes();
  st.col2im_epilogues();
  st.gemm_epilogues();
  st.update_epilogues();
  st.norm_epilogues();
  st.bias_sums();
  st.loss_gradient_merge();
  st.kernels_and_buffers();
  st.in_place_updates();
  st.buffer_offsets();
  st.barriers();
  return std::move(st.p);
}

int64_t plan_traffic_bytes(const Graph& g, const Plan& p) {
  int64_t total = 0;
  for (const KernelInfo& k : p.kernels) {
    std::vector<int> bufs;
    auto touch = [&](int node) {
      const int b = p.node_buffer[static_cast<size_t>(node)];
      if (b >= 0 && std::find(bufs.begin(), bufs.end(), b) == bufs.end()) {
        bufs.push_back(b);
        total += g.node(node).shape.numel() * 4;
      }
    };
    touch(k.node);
    if (k.colsum_out >= 0) touch(k.colsum_out);
    // A GEMM's partial sums of squares (one per parallel unit), written there and read by the sum.
    if (k.norm_out >= 0) total += 4 * k.range;
    if (k.fold_parts > 0) {
      total += 4 * k.fold_parts;
      continue;
    }
    if (k.copy_from >= 0) {
      touch(k.copy_from);
      continue;
    }
    std::vector<int> group = k.fused;
    group.push_back(k.node);
    for (int id : group)
      for (int i : g.node(id).in)
        if (std::find(group.begin(), group.end(), i) == group.end()) touch(i);
  }
  return total;
}

}  // namespace gradc
