#include "compiler/plan.h"

#include <algorithm>
#include <cstring>

namespace gradc {

namespace {
constexpr int64_t kAlign = 64;

int64_t align_up(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

// The parallel iteration space of a node's kernel (see the emitters in codegen_*.cpp).
int64_t kernel_range(const Graph& g, const Node& n) {
  switch (op_info(n.op).kind) {
    case OpKind::Unary:
    case OpKind::Binary: return n.shape.numel() / elementwise_cols(g, n);
    case OpKind::Gemm: return (n.shape[0] + gemm_row_block(n) - 1) / gemm_row_block(n);
    case OpKind::Reduce: {
      if (n.a.axis == -1) return 1;
      const Shape& x = g.node(n.in[0]).shape;
      int64_t outer = 1, inner = 1;
      for (int k = 0; k < x.rank; ++k) (k < n.a.axis ? outer : inner) *= (k == n.a.axis ? 1 : x[k]);
      return outer > 1 ? outer : inner;
    }
    case OpKind::Layout:
      if (n.op == Op::Transpose) return n.shape[0];
      if (n.op == Op::Broadcast) {  // rows of the elements after the axis
        if (n.a.axis == -1) return 1;
        int64_t inner = 1;
        for (int k = n.a.axis + 1; k < n.shape.rank; ++k) inner *= n.shape[k];
        return n.shape.numel() / inner;
      }
      return 1;
    case OpKind::Row: return n.shape.rows();
    case OpKind::Loss: return 1;
    case OpKind::Conv:
      if (n.op == Op::Conv2dGradFilter) return n.shape[0] * n.shape[1] * n.shape[2];
      return n.shape[0] * n.shape[1];
    case OpKind::Source: return 0;
  }
  return 1;
}

double kernel_flops(const Graph& g, const Node& n) {
  if (op_info(n.op).kind == OpKind::Gemm) {
    const Node& a = g.node(n.in[0]);
    return 2.0 * static_cast<double>(n.shape.numel()) * static_cast<double>(n.a.ta ? a.shape[0] : a.shape[1]);
  }
  if (n.op == Op::Conv2d) {
    const Shape& w = g.node(n.in[1]).shape;
    return 2.0 * static_cast<double>(n.shape.numel()) * static_cast<double>(w[0] * w[1] * w[2]);
  }
  return static_cast<double>(n.shape.numel());
}

void mix(uint64_t& h, uint64_t v) { h = (h ^ v) * 0x100000001b3ULL; }
}  // namespace

int64_t gemm_row_block(const Node& n) {
  if (n.a.tb) return n.a.ta ? 1 : 4;
  return 6;
}

int64_t elementwise_cols(const Graph& g, const Node& n) {
  const int64_t total = n.shape.numel();
  int64_t period = 0;
  for (int i : n.in) {
    const int64_t p = g.node(i).shape.numel();
    if (p > 1 && p < total && (period == 0 || p < period)) period = p;
  }
  if (period) return period;
  return std::max<int64_t>(1, n.shape.cols());
}

Plan make_plan(const Graph& g) {
  Plan p;
  const size_t N = g.size();
  std::vector<char> live(N, 0);
  for (int o : g.outputs()) live[static_cast<size_t>(o)] = 1;
  for (const Graph::Update& u : g.updates()) live[static_cast<size_t>(u.value)] = live[static_cast<size_t>(u.param)] = 1;
  for (size_t i = N; i-- > 0;)
    if (live[i])
      for (int j : g.node(static_cast<int>(i)).in) live[static_cast<size_t>(j)] = 1;
  // Sources always get buffers so inputs/parameters can be bound even when unused.
  for (const Node& n : g.nodes())
    if (n.op == Op::Input || n.op == Op::Parameter) live[static_cast<size_t>(n.id)] = 1;

  p.node_buffer.assign(N, -1);
  for (const Node& n : g.nodes()) {
    if (!live[static_cast<size_t>(n.id)]) continue;
    p.live.push_back(n.id);
    if (n.op == Op::Reshape) {  // zero-copy view
      p.node_buffer[static_cast<size_t>(n.id)] = p.node_buffer[static_cast<size_t>(n.in[0])];
      continue;
    }
    BufferInfo b;
    b.bytes = std::max<int64_t>(4, n.shape.numel() * 4);
    b.offset = p.arena_bytes;
    b.owner = n.id;
    p.arena_bytes += align_up(b.bytes);
    p.node_buffer[static_cast<size_t>(n.id)] = static_cast<int>(p.buffers.size());
    p.buffers.push_back(b);
    if (op_info(n.op).kind == OpKind::Source) continue;
    KernelInfo k;
    k.fn = std::string("k") + std::to_string(n.id) + "_" + op_name(n.op);
    k.node = n.id;
    k.range = kernel_range(g, n);
    k.flops = kernel_flops(g, n);
    p.kernels.push_back(k);
  }
  for (const Graph::Update& u : g.updates()) {
    KernelInfo k;
    k.fn = "update" + std::to_string(u.param);
    k.node = u.param;
    k.copy_from = u.value;
    k.range = 1;
    p.kernels.push_back(k);
  }
  return p;
}

uint64_t graph_hash(const Graph& g) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const Node& n : g.nodes()) {
    mix(h, static_cast<uint64_t>(n.op));
    mix(h, static_cast<uint64_t>(n.dtype));
    for (int k = 0; k < n.shape.rank; ++k) mix(h, static_cast<uint64_t>(n.shape[k]));
    mix(h, 0xfeed);
    for (int i : n.in) mix(h, static_cast<uint64_t>(i));
    const Attrs& a = n.a;
    mix(h, (a.ta ? 1u : 0u) | (a.tb ? 2u : 0u) | (a.training ? 4u : 0u) | (static_cast<unsigned>(a.pad) << 3) |
               (a.relu ? 64u : 0u) | (static_cast<unsigned>(a.mask) << 8));
    mix(h, static_cast<uint64_t>(a.axis + 7));
    uint32_t fv;
    std::memcpy(&fv, &a.value, 4);
    mix(h, fv);
    mix(h, static_cast<uint64_t>(a.depth));
    for (int k = 0; k < a.shape.rank; ++k) mix(h, static_cast<uint64_t>(a.shape[k]));
    for (float d : a.data) {
      std::memcpy(&fv, &d, 4);
      mix(h, fv);
    }
  }
  for (int o : g.outputs()) mix(h, static_cast<uint64_t>(o) + 0x1000);
  for (const Graph::Update& u : g.updates()) mix(h, (static_cast<uint64_t>(u.param) << 32) | static_cast<uint32_t>(u.value));
  return h;
}

}  // namespace gradc
