// make_plan's named steps (compiler/plan.cpp runs them in this order), each a member of one
// PlanState, so each can be run and tested alone:
//   liveness             which nodes run, which persist (outputs, updates, sources), their uses
//   elementwise_fusion   single-use elementwise producers inlined into their consumer's loop, and
//                        cheap arithmetic over one full-size operand recomputed in each of its readers
//   implicit_gemm        im2cols read in place by every GEMM that reads them, never materialised
//   packed_transposes    a GEMM's transposed B read while B is packed, never materialised
//   col2im_epilogues     an input gradient's col2im added up in its GEMM's epilogue, columns never written
//   gemm_epilogues       an elementwise kernel over a GEMM's result runs in that GEMM's epilogue
//   update_epilogues     a weight gradient read only by its optimizer's update rules: one GEMM kernel
//                        whose epilogue computes every rule and stores each new state (dW never written)
//   norm_epilogues       clipping's sum of squares of a weight gradient accumulated by the GEMM computing
//                        it, one partial per parallel unit (the gradient not read again)
//   bias_sums            a bias gradient (column sums of dY) summed by the weight gradient's GEMM
//                        Xᵀ·dY as it loads dY, no kernel of its own
//   loss_gradient_merge  softmax_xent's loss computed by its softmax_xent_grad kernel
//   kernels_and_buffers  one buffer per materialised node, kernels in execution order + specs
//   in_place_updates     parameter updates written straight into the parameter when safe
//   buffer_offsets       liveness in kernel order and first-fit reuse of the arena
//   barriers             a thread barrier only before kernels whose memory overlaps
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
  std::vector<int> merged_into;             // update value -> the update whose kernel computes it
  std::vector<int> placed_at;               // that update -> the node its kernel runs right after
  std::vector<int> norm_of;                 // GEMM -> the sum of squares its epilogue accumulates
  std::vector<int64_t> norm_parts;          // that sum -> its partial sums (the GEMM kernel's range)
  std::vector<int> product_kernel;          // a GEMM in optimizer rules' epilogue -> the rule computing it
  std::vector<int> colsum_of, colsum_by;    // GEMM's kernel node -> the column sums of B it computes, and back
  std::vector<size_t> last_use, first_def;  // per buffer, in kernel order

  void liveness();
  std::vector<std::vector<int>> live_readers() const;  // per node, the live nodes reading it
  // root and the producers inlined into it (chain), and the inputs they read from memory (leaves,
  // once per read).
  void inlined_chain(int root, std::vector<int>& chain, std::vector<int>& leaves) const;
  void elementwise_fusion();
  void recomputed_producers();
  void pooled_producers();
  void implicit_gemm();
  void packed_transposes();
  void col2im_epilogues();
  void gemm_epilogues();
  void update_epilogues();
  // The update rules (values of g.updates(), elementwise kernels) reading node `mm` that one kernel
  // can compute, in node order, or none when that is not safe; product: that kernel also computes mm
  // (a GEMM whose epilogue the rules become, read by nothing else).
  struct UpdateGroup {
    std::vector<int> roots;               // the rules (empty: refused)
    std::vector<int> chains;              // every node their kernel computes
    std::vector<std::vector<int>> reads;  // per rule, what its chain reads from memory
  };
  UpdateGroup update_group(int mm, const std::vector<std::vector<int>>& readers, const std::vector<int>& param_of,
                           bool product) const;
  // Where that kernel can run first (a node id: right after that node's kernel).
  int earliest_place(int mm, const UpdateGroup& u, const std::vector<std::vector<int>>& readers,
                     const std::vector<int>& param_of) const;
  int last_kernel_reading(int id, const std::vector<std::vector<int>>& readers) const;
  KernelInfo kernel_for(size_t i) const;  // the kernel computing node i (and what it fuses)
  void norm_epilogues();
  void bias_sums();
  // Whether every kernel reading node `id` runs after node `kn`'s kernel.
  bool read_after(int id, int kn, const std::vector<std::vector<int>>& readers) const;
  void loss_gradient_merge();
  void kernels_and_buffers();
  void in_place_updates();
  void buffer_offsets();
  void barriers();
};

// Ops whose kernel reads and writes element i only (dropout included): what the plan may inline
// and update in place.
bool is_elementwise_kernel(const Node& n);

}  // namespace gradc
