// make_plan's steps, each a member of one PlanState (compiler/plan_steps.h), in order.
#include "compiler/plan_steps.h"

#include <algorithm>

#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"
#include "compiler/schedule.h"

namespace gradc {

namespace {
constexpr int64_t kAlign = 64;

int64_t align_up(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

double kernel_flops(const Graph& g, const Node& n) {
  if (op_info(n.op).kind == OpKind::Gemm) {
    const GemmDims d = gemm_dims(g, n);
    return 2.0 * static_cast<double>(d.M) * static_cast<double>(d.N) * static_cast<double>(d.K);
  }
  if (n.op == Op::Conv2d) {
    const Shape& w = g.node(n.in[1]).shape;
    return 2.0 * static_cast<double>(n.shape.numel()) * static_cast<double>(w[0] * w[1] * w[2]);
  }
  // A reduction's work is its input: a bias gradient's [rows, 32] sum is not 32 flops.
  if (op_info(n.op).kind == OpKind::Reduce) return static_cast<double>(g.node(n.in[0]).shape.numel());
  return static_cast<double>(n.shape.numel());
}
}  // namespace

bool is_elementwise_kernel(const Node& n) {
  const OpKind k = op_info(n.op).kind;
  return k == OpKind::Unary || k == OpKind::Binary;
}

PlanState::PlanState(const Graph& graph, const PlanOptions& o) : g(graph), opt(o), N(graph.size()) {
  p.target = opt.target ? *opt.target : default_target();
  live.assign(N, 0);
  pinned.assign(N, 0);
  uses.assign(N, 0);
  consumer.assign(N, -1);
  inlined.assign(N, 0);
  xent_into.assign(N, -1);
  absorbed.assign(N, 0);
  merged_into.assign(N, -1);
  placed_at.assign(N, -1);
  norm_of.assign(N, -1);
  norm_parts.assign(N, 0);
  colsum_of.assign(N, -1);
  colsum_by.assign(N, -1);
  product_kernel.assign(N, -1);
}

// Which nodes run (needed by outputs and updates; sources always), which persist, their uses.
void PlanState::liveness() {
  for (int o : g.outputs()) live[static_cast<size_t>(o)] = pinned[static_cast<size_t>(o)] = 1;
  for (const Graph::Update& u : g.updates()) {
    live[static_cast<size_t>(u.value)] = live[static_cast<size_t>(u.param)] = 1;
    pinned[static_cast<size_t>(u.value)] = 1;
  }
  // A reshape is a view of its source's buffer: pinning the view must pin the buffer (a marked
  // output that is a reshape otherwise had its memory reused by later kernels).
  for (size_t i = N; i-- > 0;)
    if (pinned[i] && g.node(static_cast<int>(i)).op == Op::Reshape)
      pinned[static_cast<size_t>(g.node(static_cast<int>(i)).in[0])] = 1;
  for (size_t i = N; i-- > 0;)
    if (live[i])
      for (int j : g.node(static_cast<int>(i)).in) live[static_cast<size_t>(j)] = 1;
  // Sources always get buffers so inputs/parameters can be bound even when unused; they persist.
  for (const Node& n : g.nodes())
    if (op_info(n.op).kind == OpKind::Source) live[static_cast<size_t>(n.id)] = pinned[static_cast<size_t>(n.id)] = 1;

  // Uses among live nodes.
  for (const Node& n : g.nodes())
    if (live[static_cast<size_t>(n.id)])
      for (int i : n.in) ++uses[static_cast<size_t>(i)], consumer[static_cast<size_t>(i)] = n.id;
}

std::vector<std::vector<int>> PlanState::live_readers() const {
  std::vector<std::vector<int>> readers(N);
  for (const Node& c : g.nodes())
    if (live[static_cast<size_t>(c.id)])
      for (int j : c.in) readers[static_cast<size_t>(j)].push_back(c.id);
  return readers;
}

void PlanState::inlined_chain(int root, std::vector<int>& chain, std::vector<int>& leaves) const {
  std::vector<int> stack{root};
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (id != root && !inlined[static_cast<size_t>(id)]) {
      leaves.push_back(id);
      continue;
    }
    chain.push_back(id);
    for (int j : g.node(id).in) stack.push_back(j);
  }
}

void PlanState::elementwise_fusion() {
  // Plan-level fusion: a single-use elementwise producer is recomputed inside its consumer's loop
  // (an elementwise op of the same shape, or a sum/mean reducing it) and never materialised. A
  // single-use reshape between them is seen through (a view: the flat order is the same), so
  // batch norm's square(x - mean) reshaped to rows is summed where it is computed. A sum of a few
  // chunks (is_chunk_sum: split-k's partial products) is added where its elementwise consumer
  // reads it (a dense layer's bias and ReLU after split-k: one kernel, the sum never written).
  if (opt.fuse_elementwise)
    for (const Node& n : g.nodes()) {
      const auto i = static_cast<size_t>(n.id);
      const bool chunks = is_chunk_sum(g, n) && !inlined[static_cast<size_t>(n.in[0])];
      if (!live[i] || pinned[i] || uses[i] != 1 || (!is_elementwise_kernel(n) && !chunks)) continue;
      int via = -1, c_id = consumer[i];
      const auto c_at = static_cast<size_t>(c_id);
      if (g.node(c_id).op == Op::Reshape && uses[c_at] == 1 && !pinned[c_at]) via = c_id, c_id = consumer[c_at];
      const Node& c = g.node(c_id);
      if (chunks) {
        inlined[i] = via < 0 && is_elementwise_kernel(c) && c.shape.numel() == n.shape.numel();
        continue;
      }
      if ((is_elementwise_kernel(c) && c.shape.numel() == n.shape.numel()) || c.op == Op::Sum || c.op == Op::Mean) {
        inlined[i] = 1;
        if (via >= 0) inlined[static_cast<size_t>(via)] = 1;
      }
    }
  if (opt.fuse_elementwise) recomputed_producers();
  if (opt.fuse_elementwise) pooled_producers();
}

void PlanState::recomputed_producers() {
  // An arithmetic op with one full-size operand and the others broadcast (batch norm's x - mean)
  // read by several elementwise kernels or sums is recomputed in each of them rather than written:
  // each reads x instead of the difference, the same bytes, and the full-size write and its pass
  // are gone (the convnet's first x - mean: 11 MB, 430 µs of a 1-thread step). A reader through a
  // single-use reshape counts as its consumer (batch norm's gradient term 2c·(x - mean), one
  // reader an add of rows and one a negated sum).
  const std::vector<std::vector<int>> readers = live_readers();
  for (const Node& n : g.nodes()) {
    const auto i = static_cast<size_t>(n.id);
    const bool arithmetic = n.op == Op::Add || n.op == Op::Sub || n.op == Op::Mul || n.op == Op::Div;
    if (!live[i] || pinned[i] || inlined[i] || uses[i] < 2 || !arithmetic) continue;
    int full = 0;
    for (int j : n.in) full += g.node(j).shape.numel() == n.shape.numel();
    bool all_fuse = full == 1;
    std::vector<int> views;  // single-use reshapes between n and a reader, seen through as in elementwise_fusion
    for (int c_id : readers[i]) {
      const auto c_at = static_cast<size_t>(c_id);
      if (g.node(c_id).op == Op::Reshape && uses[c_at] == 1 && !pinned[c_at]) {
        views.push_back(c_id);
        c_id = consumer[c_at];
      }
      const Node& c = g.node(c_id);
      all_fuse &= (is_elementwise_kernel(c) && c.op != Op::Dropout && c.shape.numel() == n.shape.numel()) ||
                  c.op == Op::Sum || c.op == Op::Mean;
    }
    if (!all_fuse) continue;
    inlined[i] = 1;
    for (int v : views) inlined[static_cast<size_t>(v)] = 1;
  }
}

void PlanState::pooled_producers() {
  // An elementwise kernel (or a view of one) read only as the input of pooling kernels — batch
  // norm's relu(x·scale + shift) under a max-pool, read by the pool and by its gradient — is
  // recomputed where they read it when its inputs hold one full-size operand (x) and per-channel
  // ones: each reads x instead of the activation, the same bytes, and the activation's write and
  // pass are gone (the convnet --batch-norm first layer's 11 MB).
  auto pools = [&](const Node& c, int id) {
    return (c.op == Op::MaxPool2d || c.op == Op::AvgPool2d || c.op == Op::MaxPool2dGrad) && c.in[0] == id &&
           (c.in.size() < 2 || c.in[1] != id);
  };
  const std::vector<std::vector<int>> readers = live_readers();
  for (const Node& r : g.nodes()) {
    const auto ri = static_cast<size_t>(r.id);
    if (!live[ri] || pinned[ri] || inlined[ri] || readers[ri].empty() || r.shape.rank != 4) continue;
    const int e_id = r.op == Op::Reshape ? r.in[0] : r.id;
    const auto ei = static_cast<size_t>(e_id);
    const Node& en = g.node(e_id);
    if (pinned[ei] || inlined[ei] || !is_elementwise_kernel(en) || en.op == Op::Dropout ||
        (e_id != r.id && uses[ei] != 1))
      continue;
    bool all_pools = true;
    for (int c : readers[ri]) all_pools &= pools(g.node(c), r.id);
    if (!all_pools) continue;
    // The chain the pools would recompute: en and its inlined producers; its other inputs are read.
    std::vector<int> chain, leaves;
    inlined_chain(e_id, chain, leaves);
    int full = 0;
    for (int id : leaves) full += g.node(id).shape.numel() == en.shape.numel();
    if (e_id != r.id) chain.push_back(r.id);
    if (full != 1 || !elementwise_vectorisable(g, chain, en.shape.numel(), r.shape[3])) continue;
    inlined[ei] = 1;
    inlined[ri] = 1;
  }
}

namespace {
// An im2col operand as a GEMM reads it in place: op(A) (output positions as its rows: the forward
// convolution; or along k: a first layer's filter gradient colsᵀ·dY) or B not transposed (the filter
// gradient dYᵀ·cols), in the f32 broadcast form.
bool reads_cols_in_place(const Node& c, size_t operand, bool bf16) {
  if (bf16 || c.a.tb || (c.op != Op::MatMul && c.op != Op::Dense && c.op != Op::MatMulSplitK)) return false;
  return operand <= 1;
}
}  // namespace

void PlanState::implicit_gemm() {
  // Implicit GEMM: an im2col whose every reader reads it in place is never written (its columns
  // are B·OH·OW·KH·KW·C floats: 17.8 MB for the convnet's second layer at batch 128).
  if (!opt.implicit_gemm) return;
  std::vector<char> in_place(N, 1);
  for (const Node& c : g.nodes())
    if (live[static_cast<size_t>(c.id)])
      for (size_t i = 0; i < c.in.size(); ++i)
        if (!reads_cols_in_place(c, i, opt.bf16)) in_place[static_cast<size_t>(c.in[i])] = 0;
  for (const Node& n : g.nodes()) {
    const auto i = static_cast<size_t>(n.id);
    if (n.op == Op::Im2Col && live[i] && !pinned[i] && uses[i] > 0 && in_place[i]) inlined[i] = 1;
  }
}

void PlanState::packed_transposes() {
  // gemm-layout's transpose of B (C = A·Bᵀ run as A·transpose(B)) is read by its GEMM while B is
  // packed, through register transposes, when the K blocks are whole vectors (but the last): the
  // transpose is never written (the tutorial CNN's 9.7 MB W1 every step).
  if (!opt.implicit_gemm || opt.bf16) return;
  for (const Node& n : g.nodes()) {
    const auto i = static_cast<size_t>(n.id);
    if (n.op != Op::Transpose || !live[i] || pinned[i] || uses[i] != 1) continue;
    const Node& c = g.node(consumer[i]);
    if ((c.op != Op::MatMul && c.op != Op::Dense) || c.a.tb || c.in[1] != n.id || c.in[0] == n.id) continue;
    const GemmSpec s = schedule_gemm(g, c, p.target, {n.id});
    if (s.form == GemmSpec::Broadcast && s.pack && s.k_blocks_whole_vectors(p.target.lanes)) inlined[i] = 1;
  }
}

void PlanState::col2im_epilogues() {
  // An input gradient's columns dY·W2ᵀ (17.8 MB for the convnet's second layer at batch 128) are
  // added into dX by the GEMM's epilogue as each tile finishes, never written: col2im(matmul) is
  // one kernel when the GEMM runs in the f32 broadcast form over one K block and each tap's
  // channels fill whole vectors (schedule.cpp decides that).
  if (!opt.implicit_gemm || opt.bf16) return;
  for (const Node& n : g.nodes()) {
    if (n.op != Op::Col2Im || !live[static_cast<size_t>(n.id)]) continue;
    const auto m = static_cast<size_t>(n.in[0]);
    if (inlined[m] || pinned[m] || uses[m] != 1) continue;
    std::vector<int> own;  // the matmul's inlined producers (a transposed B read while packed)
    for (int i : g.node(n.in[0]).in)
      if (inlined[static_cast<size_t>(i)]) own.push_back(i);
    if (col2im_epilogue_images(g, n, p.target, own) > 0) inlined[m] = 1;
  }
}

void PlanState::gemm_epilogues() {
  // An elementwise kernel whose chain reads a GEMM's result (its only reader, as many elements)
  // runs as that GEMM with the chain in its epilogue: each finished vector goes through the chain
  // before it is stored, and the GEMM's result is never written (XLA's output fusion). A dense
  // layer's dropout, a dX GEMM's relu_grad: 2 MB written and read back per layer of mlp512 at
  // batch 1024. Not for a parameter's new value (computed in place, its buffer would hold the
  // partial sums between K blocks while the chain still reads the parameter), nor a split-k or
  // matmul_update GEMM (their C is not the product).
  if (!opt.fuse_elementwise) return;
  std::vector<char> update(N, 0);
  for (const Graph::Update& u : g.updates()) update[static_cast<size_t>(u.value)] = 1;
  for (const Node& e : g.nodes()) {
    const auto ei = static_cast<size_t>(e.id);
    if (!live[ei] || update[ei] || inlined[ei] || !is_elementwise_kernel(e)) continue;
    std::vector<int> chain, leaves, gemms;
    inlined_chain(e.id, chain, leaves);
    for (int id : leaves) {
      const auto i = static_cast<size_t>(id);
      const Node& x = g.node(id);
      const bool gemm = (x.op == Op::MatMul || x.op == Op::Dense || x.op == Op::MatMulMask) && uses[i] == 1 &&
                        !pinned[i] && x.shape.numel() == e.shape.numel();
      if (gemm && std::find(gemms.begin(), gemms.end(), id) == gemms.end()) gemms.push_back(id);
    }
    if (gemms.size() != 1) continue;
    const Node& mm = g.node(gemms[0]);
    std::vector<int> own;  // the GEMM's inlined operands (an im2col, a transposed B)
    for (int i : mm.in)
      if (inlined[static_cast<size_t>(i)]) own.push_back(i);
    const GemmSpec s = schedule_gemm(g, mm, p.target, own);
    // Seen through a view (the convnet's dropout gradient reshaped to the pooled map), the chain's
    // rows are not the product's: its operands must then be whole or scalars.
    const int64_t total = e.shape.numel(), cols = mm.shape == e.shape ? e.shape[1] : total;
    if (s.form != GemmSpec::Broadcast || !elementwise_vectorisable(g, chain, total, cols)) continue;
    inlined[static_cast<size_t>(mm.id)] = 1;
  }
}

PlanState::UpdateGroup PlanState::update_group(int mm, const std::vector<std::vector<int>>& readers,
                                               const std::vector<int>& param_of, bool product) const {
  const Node& gemm = g.node(mm);
  UpdateGroup u;
  auto in = [](const std::vector<int>& v, int id) { return std::find(v.begin(), v.end(), id) != v.end(); };
  for (const Node& n : g.nodes()) {
    const auto i = static_cast<size_t>(n.id);
    if (n.id <= mm || !live[i] || inlined[i] || param_of[i] < 0 || !is_elementwise_kernel(n) || merged_into[i] >= 0 ||
        placed_at[i] >= 0)
      continue;
    std::vector<int> chain, reads;
    inlined_chain(n.id, chain, reads);
    if (!std::any_of(reads.begin(), reads.end(), [&](int id) { return id == mm || in(u.roots, id); })) continue;
    // All of the kernel's shape: the product's, or (over a gradient in memory) the first rule's.
    if (n.shape != (product ? gemm.shape : u.roots.empty() ? n.shape : g.node(u.roots[0]).shape)) return {};
    u.roots.push_back(n.id);
    u.reads.push_back(reads);
    u.chains.insert(u.chains.end(), chain.begin(), chain.end());
  }
  if (u.roots.empty()) return {};
  // Nothing outside the kernel reads the product (when the kernel computes it) or a node inlined
  // into it, and what reads an earlier rule's value runs after the last rule.
  for (int id : readers[static_cast<size_t>(mm)])
    if (product && !in(u.chains, id)) return {};
  for (int id : u.chains)
    for (int r : readers[static_cast<size_t>(id)])
      if (!in(u.chains, r) && (!in(u.roots, id) || r < u.roots.back())) return {};
  // Each rule reads its parameter's element where it writes it, in place: no rule may read another
  // rule's parameter, nor the product's operands any of them.
  std::vector<int> params;
  for (int r : u.roots) params.push_back(param_of[static_cast<size_t>(r)]);
  for (size_t k = 0; k < u.roots.size(); ++k)
    for (int id : u.reads[k])
      if (in(params, id) && id != param_of[static_cast<size_t>(u.roots[k])]) return {};
  if (!product) return u;
  for (int id : gemm.in)
    if (in(params, id) || (inlined[static_cast<size_t>(id)] && std::any_of(g.node(id).in.begin(), g.node(id).in.end(),
                                                                           [&](int j) { return in(params, j); })))
      return {};
  std::vector<int> nodes = u.chains;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  if (!elementwise_vectorisable(g, nodes, gemm.shape.numel(), gemm.shape[1])) return {};
  return u;
}

int PlanState::last_kernel_reading(int id, const std::vector<std::vector<int>>& readers) const {
  int last = -1;
  for (int r : readers[static_cast<size_t>(id)]) {
    const auto ri = static_cast<size_t>(r);
    // An inlined reader runs in its consumers' kernels; a merged rule at most at its group's last.
    last = std::max(last, inlined[ri] ? last_kernel_reading(r, readers) : merged_into[ri] >= 0 ? merged_into[ri] : r);
  }
  return last;
}

int PlanState::earliest_place(int mm, const UpdateGroup& u, const std::vector<std::vector<int>>& readers,
                              const std::vector<int>& param_of) const {
  // After the GEMM, what the rules read, and every other kernel reading a parameter they update (so
  // each can be updated in place), never later than the last rule: the GEMM's operands are freed
  // where they were (mlp512 b1024 momentum: 20.8 MB of buffers, 22.8 with the kernel at the last
  // rule, after the whole backward pass).
  int pos = mm;
  auto in = [](const std::vector<int>& v, int id) { return std::find(v.begin(), v.end(), id) != v.end(); };
  for (const std::vector<int>& reads : u.reads)
    for (int id : reads)
      if (id != mm && !in(u.roots, id) && op_info(g.node(id).op).kind != OpKind::Source)
        pos = std::max(pos, merged_into[static_cast<size_t>(id)] >= 0 ? merged_into[static_cast<size_t>(id)] : id);
  for (int r : u.roots)
    for (int reader : readers[static_cast<size_t>(param_of[static_cast<size_t>(r)])])
      if (!in(u.chains, reader))
        pos = std::max(pos, inlined[static_cast<size_t>(reader)] ? last_kernel_reading(reader, readers) : reader);
  return std::min(pos, u.roots.back());
}

void PlanState::update_epilogues() {
  // A weight gradient read only by its optimizer's rules (momentum's v, Adagrad's and RMSprop's
  // accumulators, Adam's m and v, and the parameter's new value reading them) runs as one GEMM
  // kernel (placed by earliest_place): each finished vector of dW goes through every rule, and each
  // new state is stored where the plan puts it (in place when in_place_updates can), so dW is never
  // written and the states are read and written once. Its partial sums between K blocks go to
  // scratch, as a matmul_update's (its C is a parameter). Plain SGD is fuse-update's matmul_update.
  if (!opt.fuse_elementwise) return;
  std::vector<int> param_of(N, -1);
  for (const Graph::Update& u : g.updates()) param_of[static_cast<size_t>(u.value)] = u.param;
  const std::vector<std::vector<int>> readers = live_readers();
  for (const Node& mm : g.nodes()) {
    const auto m = static_cast<size_t>(mm.id);
    if (mm.op != Op::MatMul || mm.shape.rank != 2 || !live[m] || inlined[m] || pinned[m]) continue;
    const UpdateGroup u = update_group(mm.id, readers, param_of, true);
    if (u.roots.empty()) continue;
    std::vector<int> own;  // the GEMM's inlined operands (a transposed B read while packed)
    for (int i : mm.in)
      if (inlined[static_cast<size_t>(i)]) own.push_back(i);
    if (schedule_gemm(g, mm, p.target, own).form != GemmSpec::Broadcast) continue;
    inlined[m] = 1;
    product_kernel[m] = u.roots.back();
    for (int r : u.roots)
      if (r != u.roots.back()) merged_into[static_cast<size_t>(r)] = u.roots.back();
    placed_at[static_cast<size_t>(u.roots.back())] = earliest_place(mm.id, u, readers, param_of);
  }
  // The rules over a gradient that stays in memory (a bias's column sum, a gradient computed
  // transposed, one that global-norm clipping also reads): one elementwise kernel at the last rule
  // computes all of them, so the gradient and each state are read once (Adam: one pass instead of three).
  for (const Node& x : g.nodes()) {
    const auto xi = static_cast<size_t>(x.id);
    if (!live[xi] || inlined[xi] || op_info(x.op).kind == OpKind::Source) continue;
    const std::vector<int> roots = update_group(x.id, readers, param_of, false).roots;
    for (int r : roots)
      if (r != roots.back()) merged_into[static_cast<size_t>(r)] = roots.back();
  }
}

void PlanState::norm_epilogues() {
  // Global-norm clipping's sum(square(dW)) of a gradient some GEMM computes (or its transpose: the
  // same squares): that GEMM's kernel adds up the squares of its finished vectors, one partial sum
  // per parallel unit in the sum's buffer, and the sum's kernel adds those in unit order instead of
  // reading dW again. dW is still written: the clipped update needs every gradient's norm first.
  if (!opt.fuse_elementwise) return;
  for (const Node& r : g.nodes()) {
    const auto ri = static_cast<size_t>(r.id);
    if (r.op != Op::Sum || r.a.axis != -1 || !live[ri] || inlined[ri]) continue;
    std::vector<int> chain, leaves;
    inlined_chain(r.id, chain, leaves);
    if (chain.size() != 2 || g.node(chain[1]).op != Op::Square || leaves.size() != 1) continue;
    const int mm = g.node(leaves[0]).op == Op::Transpose ? g.node(leaves[0]).in[0] : leaves[0];
    const auto m = static_cast<size_t>(mm);
    const Node& x = g.node(mm);
    if (x.op != Op::MatMul || !live[m] || inlined[m] || norm_of[m] >= 0) continue;
    std::vector<int> own;  // the GEMM's inlined operands (an im2col, a transposed B)
    for (int i : x.in)
      if (inlined[static_cast<size_t>(i)]) own.push_back(i);
    if (schedule_gemm(g, x, p.target, own).form == GemmSpec::Broadcast) norm_of[m] = r.id;
  }
}

bool PlanState::read_after(int id, int kn, const std::vector<std::vector<int>>& readers) const {
  // Kernel order (kernels_and_buffers): node order, a placed kernel right after its node, several
  // placed after one node in the order of their own nodes.
  const int pos = placed_at[static_cast<size_t>(kn)] >= 0 ? placed_at[static_cast<size_t>(kn)] : kn;
  for (int r : readers[static_cast<size_t>(id)]) {
    const auto ri = static_cast<size_t>(r);
    if (inlined[ri]) {
      if (!read_after(r, kn, readers)) return false;
      continue;
    }
    const int at = merged_into[ri] >= 0 ? merged_into[ri] : r;  // a merged rule runs in its group's kernel
    const int placed = placed_at[static_cast<size_t>(at)];      // which may run right after another node
    const bool after = placed < 0 ? at > pos : placed > pos || (placed == pos && (pos == kn || at > kn));
    if (!after) return false;
  }
  return true;
}

void PlanState::bias_sums() {
  // A bias gradient db = column sums of dY, where dY is B of a weight gradient's GEMM dW = Xᵀ·dY (however op(A) is laid
  // out): the tiles of the GEMM's first row block add up each vector of B they load, in k order as the sum's own kernel
  // would, and store the sums beside C. dY is read once for both, and the sum has no kernel (nor barrier) of its own.
  // Everything reading db must run after the GEMM.
  if (!opt.fuse_elementwise) return;
  const std::vector<std::vector<int>> readers = live_readers();
  for (const Node& s : g.nodes()) {
    const auto si = static_cast<size_t>(s.id);
    if (s.op != Op::Sum || s.a.axis != 0 || !live[si] || inlined[si]) continue;
    const Node& y = g.node(s.in[0]);
    if (y.shape.rank != 2 || inlined[static_cast<size_t>(y.id)] || s.shape.numel() != y.shape[1]) continue;
    for (int mm : readers[static_cast<size_t>(y.id)]) {
      const Node& x = g.node(mm);
      const auto m = static_cast<size_t>(mm);
      // The kernel computing the GEMM: its own, or the optimizer rules' it runs in (update_epilogues).
      const int kn = inlined[m] ? product_kernel[m] : mm;
      if ((x.op != Op::MatMul && x.op != Op::MatMulUpdate) || x.a.tb || x.in[1] != y.id || x.in[0] == y.id ||
          !live[m] || kn < 0 || colsum_of[static_cast<size_t>(kn)] >= 0 || inlined[static_cast<size_t>(x.in[0])] ||
          !read_after(s.id, kn, readers) || schedule_gemm(g, x, p.target).form != GemmSpec::Broadcast)
        continue;
      colsum_of[static_cast<size_t>(kn)] = s.id;
      colsum_by[si] = kn;
      break;
    }
  }
}

void PlanState::loss_gradient_merge() {
  // softmax_xent's loss comes out of the softmax_xent_grad kernel over the same logits and labels,
  // placed at the loss's position when the gradient's inputs are ready by then.
  if (opt.fuse_elementwise)
    for (const Node& n : g.nodes())
      if (n.op == Op::SoftmaxXentGrad && live[static_cast<size_t>(n.id)])
        for (const Node& x : g.nodes())
          if (x.op == Op::SoftmaxXent && live[static_cast<size_t>(x.id)] && x.in[0] == n.in[0] && x.in[1] == n.in[1] &&
              (n.in[2] < x.id || op_info(g.node(n.in[2]).op).kind == OpKind::Source) &&
              xent_into[static_cast<size_t>(x.id)] < 0) {
            xent_into[static_cast<size_t>(x.id)] = n.id;
            break;
          }
  for (int into : xent_into)
    if (into >= 0) absorbed[static_cast<size_t>(into)] = 1;
}

KernelInfo PlanState::kernel_for(size_t i) const {
  const int node = xent_into[i] >= 0 ? xent_into[i] : static_cast<int>(i);
  KernelInfo k;
  k.node = node;
  const Node& kn = g.node(node);
  k.fn = std::string("k") + std::to_string(node) + "_" + op_name(kn.op);
  k.flops = kernel_flops(g, kn);
  if (xent_into[i] >= 0) k.fused.push_back(static_cast<int>(i));  // the loss, written by the same serial pass
  // Collect the inlined producers feeding this kernel, and the update rules it also computes.
  std::vector<int> stack(kn.in.begin(), kn.in.end());
  for (size_t r = 0; r < i; ++r)
    if (merged_into[r] == node) {
      k.fused.push_back(static_cast<int>(r));
      stack.insert(stack.end(), g.node(static_cast<int>(r)).in.begin(), g.node(static_cast<int>(r)).in.end());
    }
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (!inlined[static_cast<size_t>(id)] || std::find(k.fused.begin(), k.fused.end(), id) != k.fused.end()) continue;
    k.fused.push_back(id);
    if (is_elementwise_kernel(g.node(id))) k.flops += static_cast<double>(g.node(id).shape.numel());
    if (op_info(g.node(id).op).kind == OpKind::Gemm) k.flops += kernel_flops(g, g.node(id));
    for (int j : g.node(id).in) stack.push_back(j);
  }
  if (const int mm = epilogue_gemm(g, kn, k.fused); mm >= 0)  // named for both: k6_dense_dropout
    k.fn = std::string("k") + std::to_string(node) + "_" + op_name(g.node(mm).op) + "_" + op_name(kn.op);
  k.host = op_info(kn.op).kind == OpKind::Collective;
  if (k.host) k.flops = 0;  // communication, not arithmetic
  k.spec = schedule_kernel(g, kn, k.fused, p.target);
  if (opt.bf16 && k.spec.strategy == Strategy::GemmBroadcast) use_bf16(k.spec.gemm, p.target);
  k.scratch_bytes = k.spec.scratch_bytes();
  k.range = k.spec.range = xent_into[i] >= 0 ? 1 : k.spec.range;
  k.norm_out = norm_of[i];
  k.colsum_out = colsum_of[i];
  if (norm_parts[i] > 0) {  // adds its GEMM's partial sums: reads neither dW nor its square
    k.fold_parts = norm_parts[i];
    k.fused.clear();
    k.flops = static_cast<double>(k.fold_parts);
  }
  return k;
}

void PlanState::kernels_and_buffers() {
  // Buffers (offsets assigned below) and kernels in execution order: node order, but an
  // update_epilogues kernel runs right after the node placed_at names.
  p.node_buffer.assign(N, -1);
  std::vector<std::vector<size_t>> after(N);
  for (size_t i = 0; i < N; ++i)
    if (placed_at[i] >= 0) after[static_cast<size_t>(placed_at[i])].push_back(i);
  for (const Node& n : g.nodes()) {
    const auto i = static_cast<size_t>(n.id);
    if (live[i]) p.live.push_back(n.id);
    if (live[i] && !inlined[i] && n.op == Op::Reshape) {  // zero-copy view
      p.node_buffer[i] = p.node_buffer[static_cast<size_t>(n.in[0])];
    } else if (live[i] && !inlined[i]) {
      BufferInfo b;
      b.bytes = std::max<int64_t>({4, n.shape.numel() * 4, norm_parts[i] * 4});
      b.owner = n.id;
      p.node_buffer[i] = static_cast<int>(p.buffers.size());
      p.buffers.push_back(b);
      if (op_info(n.op).kind != OpKind::Source && !absorbed[i] && merged_into[i] < 0 && placed_at[i] < 0 &&
          colsum_by[i] < 0)
        p.kernels.push_back(kernel_for(i));
      if (norm_of[i] >= 0) {
        if (p.kernels.empty() || p.kernels.back().node != n.id)
          throw std::logic_error("gradc: a GEMM with a sum of squares in its epilogue is not its own kernel");
        norm_parts[static_cast<size_t>(norm_of[i])] = p.kernels.back().range;
      }
    }
    for (size_t r : after[i]) p.kernels.push_back(kernel_for(r));
  }
}

void PlanState::in_place_updates() {
  // Parameter updates. The new value is computed straight into the parameter's buffer when that is
  // safe: its kernel reads the parameter's element i only to write element i (an elementwise map, or
  // a matmul_update's epilogue when neither GEMM operand is the parameter) and no later kernel reads
  // the old parameter (later readers of the new value then find it in the parameter's buffer).
  // Otherwise a copy kernel runs at the end.
  std::vector<size_t> node_kernel(N, SIZE_MAX);
  for (size_t t = 0; t < p.kernels.size(); ++t) {
    node_kernel[static_cast<size_t>(p.kernels[t].node)] = t;
    for (int f : p.kernels[t].fused) node_kernel[static_cast<size_t>(f)] = t;
  }
  for (const Graph::Update& u : g.updates()) {
    const auto v = static_cast<size_t>(u.value);
    const size_t t = node_kernel[v];
    const Node& vn = g.node(u.value);
    const bool by_element = is_elementwise_kernel(vn) || (vn.op == Op::MatMulUpdate && vn.in[2] == u.param &&
                                                          vn.in[0] != u.param && vn.in[1] != u.param);
    bool in_place = opt.plan_memory && t != SIZE_MAX &&
                    (p.kernels[t].node == u.value || merged_into[v] == p.kernels[t].node) && by_element;
    if (in_place)
      for (const Node& n : g.nodes())
        if (live[static_cast<size_t>(n.id)] && n.id != u.value)
          for (int i : n.in)
            if (i == u.param && node_kernel[static_cast<size_t>(n.id)] != t &&
                (node_kernel[static_cast<size_t>(n.id)] == SIZE_MAX || node_kernel[static_cast<size_t>(n.id)] > t))
              in_place = false;
    if (in_place) {
      p.buffers[static_cast<size_t>(p.node_buffer[v])].bytes = 0;  // never allocated
      p.node_buffer[v] = p.node_buffer[static_cast<size_t>(u.param)];
      continue;
    }
    KernelInfo k;
    k.fn = "update" + std::to_string(u.param);
    k.node = u.param;
    k.copy_from = u.value;
    k.range = 1;
    k.spec.strategy = Strategy::Copy;
    k.spec.lanes = p.target.lanes;
    p.kernels.push_back(k);
  }
}

void PlanState::buffer_offsets() {
  // Liveness: last kernel reading each buffer (reshapes read through their alias).
  last_use.assign(p.buffers.size(), 0);
  first_def.assign(p.buffers.size(), SIZE_MAX);
  for (size_t t = 0; t < p.kernels.size(); ++t) {
    const KernelInfo& k = p.kernels[t];
    std::vector<int> reads;
    if (k.copy_from >= 0) reads.push_back(k.copy_from);
    std::vector<int> group = k.fused;
    group.push_back(k.node);
    for (int id : group) {
      const int b = p.node_buffer[static_cast<size_t>(id)];
      if (b >= 0 && first_def[static_cast<size_t>(b)] == SIZE_MAX) first_def[static_cast<size_t>(b)] = t;
      if (k.copy_from < 0 && k.fold_parts == 0)
        for (int j : g.node(id).in) reads.push_back(j);
    }
    for (int out : {k.norm_out, k.colsum_out})  // its partial sums of squares, a bias gradient: defined here
      if (out >= 0) {
        const auto b = static_cast<size_t>(p.node_buffer[static_cast<size_t>(out)]);
        first_def[b] = std::min(first_def[b], t);
      }
    for (int id : reads) {
      const int b = p.node_buffer[static_cast<size_t>(id)];
      if (b >= 0) last_use[static_cast<size_t>(b)] = std::max(last_use[static_cast<size_t>(b)], t);
    }
  }
  // Offsets: pinned buffers first (they live for the whole program), then first-fit reuse of
  // freed blocks in kernel order.
  for (BufferInfo& b : p.buffers) p.unplanned_bytes += align_up(b.bytes);
  if (!opt.plan_memory) p.unplanned_bytes = 0;  // computed below as the arena itself
  struct Block {
    int64_t offset, bytes;
  };
  std::vector<Block> free_blocks;
  std::vector<std::pair<size_t, size_t>> order;  // (first_def, buffer)
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    BufferInfo& bi = p.buffers[b];
    if (bi.bytes == 0) continue;  // aliased onto a parameter (in-place update)
    const bool persistent = !opt.plan_memory || pinned[static_cast<size_t>(bi.owner)] || first_def[b] == SIZE_MAX;
    if (persistent) {
      bi.offset = p.arena_bytes;
      p.arena_bytes += align_up(bi.bytes);
    } else {
      order.emplace_back(first_def[b], b);
    }
  }
  if (!opt.plan_memory) p.unplanned_bytes = p.arena_bytes;
  std::sort(order.begin(), order.end());
  std::vector<std::pair<size_t, size_t>> active;  // (last_use, buffer)
  for (auto [def, b] : order) {
    for (auto it = active.begin(); it != active.end();) {
      if (it->first < def) {
        free_blocks.push_back({p.buffers[it->second].offset, align_up(p.buffers[it->second].bytes)});
        it = active.erase(it);
      } else {
        ++it;
      }
    }
    BufferInfo& bi = p.buffers[b];
    const int64_t need = align_up(bi.bytes);
    auto best = free_blocks.end();
    for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
      if (it->bytes >= need && (best == free_blocks.end() || it->bytes < best->bytes)) best = it;
    if (best != free_blocks.end()) {
      bi.offset = best->offset;
      if (best->bytes > need)
        best->offset += need, best->bytes -= need;
      else
        free_blocks.erase(best);
    } else {
      bi.offset = p.arena_bytes;
      p.arena_bytes += need;
    }
    active.emplace_back(last_use[b], b);
  }
}

void PlanState::barriers() {
  // Barrier elision: a kernel needs a barrier before it only if its reads or writes overlap (in
  // arena bytes, so reused buffers count) the writes of a kernel since the last barrier, or its
  // writes overlap their reads.
  struct Range {
    int64_t lo, hi;
  };
  auto ranges_of = [&](const KernelInfo& k, bool writes) {
    std::vector<Range> r;
    auto add = [&](int node) {
      const int b = p.node_buffer[static_cast<size_t>(node)];
      if (b >= 0)
        r.push_back(
            {p.buffers[static_cast<size_t>(b)].offset,
             p.buffers[static_cast<size_t>(b)].offset + std::max<int64_t>(4, p.buffers[static_cast<size_t>(b)].bytes)});
    };
    std::vector<int> group = k.fused;
    group.push_back(k.node);
    if (writes) {
      for (int id : group) add(id);
      if (k.norm_out >= 0) add(k.norm_out);
      if (k.colsum_out >= 0) add(k.colsum_out);
    } else if (k.fold_parts > 0) {
      add(k.node);  // the partial sums it adds up
    } else if (k.copy_from >= 0) {
      add(k.copy_from);
    } else {
      for (int id : group)
        for (int i : g.node(id).in) add(i);
    }
    return r;
  };
  auto overlap = [](const std::vector<Range>& a, const std::vector<Range>& b) {
    for (const Range& x : a)
      for (const Range& y : b)
        if (x.lo < y.hi && y.lo < x.hi) return true;
    return false;
  };
  // Since the last barrier: what kernels split across the threads touched, and what kernels that
  // run on thread 0 alone touched. A kernel on thread 0 alone follows thread 0's own earlier work in
  // program order, so it waits only for the split kernels (dnn b30's step: 12 -> 11 barriers fused,
  // 25 -> 14 unfused, whose small elementwise kernels all run on thread 0).
  std::vector<Range> split_w, split_r, one_w, one_r;
  auto append = [](std::vector<Range>& to, const std::vector<Range>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  for (size_t t = 0; t < p.kernels.size(); ++t) {
    KernelInfo& k = p.kernels[t];
    const std::vector<Range> r = ranges_of(k, false), w = ranges_of(k, true);
    const bool one = runs_on_one_thread(k);
    bool wait = overlap(r, split_w) || overlap(w, split_w) || overlap(w, split_r);
    if (!one) wait = wait || overlap(r, one_w) || overlap(w, one_w) || overlap(w, one_r);
    k.barrier_before = t > 0 && wait;
    if (k.barrier_before) split_w.clear(), split_r.clear(), one_w.clear(), one_r.clear();
    append(one ? one_w : split_w, w);
    append(one ? one_r : split_r, r);
  }
}

}  // namespace gradc
