// make_plan's named steps (compiler/plan.cpp runs them in this order), each over one PlanState so
// each can be run and tested alone:
//   plan_liveness             which nodes run, which persist (outputs, updates, sources), their uses
//   plan_elementwise_fusion   single-use elementwise producers inlined into their consumer's loop
//   plan_loss_gradient_merge  softmax_xent's loss computed by its softmax_xent_grad kernel
//   plan_kernels_and_buffers  one buffer per materialised node, kernels in execution order + specs
//   plan_in_place_updates     parameter updates written straight into the parameter when safe
//   plan_buffer_offsets       liveness in kernel order and first-fit reuse of the arena
//   plan_barriers             a thread barrier only before kernels whose memory overlaps
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/plan.h"

namespace gradc {

struct PlanState {
  PlanState(const Graph& g, const PlanOptions& opt);
  const Graph& g;
  PlanOptions opt;
  size_t N;
  Plan p;
  std::vector<char> live, pinned;  // pinned: persists for the whole program
  std::vector<int> uses, consumer;
  std::vector<char> inlined;                // computed inside its consumer's kernel
  std::vector<int> xent_into;               // softmax_xent -> the softmax_xent_grad computing it
  std::vector<char> absorbed;               // grads whose kernel moved to their loss's position
  std::vector<size_t> last_use, first_def;  // per buffer, in kernel order
};

// Ops whose kernel reads and writes element i only (dropout included): what the plan may inline
// and update in place.
bool is_elementwise_kernel(const Node& n);

void plan_liveness(PlanState& st);
void plan_elementwise_fusion(PlanState& st);
void plan_loss_gradient_merge(PlanState& st);
void plan_kernels_and_buffers(PlanState& st);
void plan_in_place_updates(PlanState& st);
void plan_buffer_offsets(PlanState& st);
void plan_barriers(PlanState& st);

}  // namespace gradc
