// Elementwise kernels: a group of same-shaped unary/binary nodes evaluated in one loop nest
// rows [lo,hi) × cols, the inner loop contiguous so LLVM vectorises it at the target's vector width.
#include <algorithm>

#include "autodiff/elementwise.h"
#include "autodiff/rng.h"
#include "compiler/emitter.h"

namespace gradc {

namespace {
// The math elementwise.h's definitions are written against, as IR: exp/log are the emitter's
// vectorisable polynomials, tanh is 1 - 2/(e^{2x} + 1) (accurate to ~1e-7 absolute).
struct IrMath {
  using V = llvm::Value*;
  Emitter& e;
  int width = 0;  // > 0: values are vectors of this many lanes
  V c(double v) const {
    llvm::Value* s = e.cf(static_cast<float>(v));
    return width ? e.splat(s, width) : s;
  }
  V add(V a, V b) const { return e.b.CreateFAdd(a, b); }
  V sub(V a, V b) const { return e.b.CreateFSub(a, b); }
  V mul(V a, V b) const { return e.b.CreateFMul(a, b); }
  V div(V a, V b) const { return e.b.CreateFDiv(a, b); }
  V neg(V a) const { return e.b.CreateFNeg(a); }
  V max(V a, V b) const { return e.fmax(a, b); }
  V if_pos(V cond, V a, V b) const { return e.b.CreateSelect(e.b.CreateFCmpOGT(cond, c(0)), a, b); }
  V exp(V x) const { return e.exp(x); }
  V log(V x) const { return e.log(x); }
  V sqrt(V x) const { return e.call_intrinsic(llvm::Intrinsic::sqrt, x); }
  V tanh(V x) const { return sub(c(1), div(c(2), add(exp(mul(x, c(2))), c(1)))); }
};

struct Ctx {
  Emitter& e;
  const std::vector<int>& group;  // nodes computed in registers
  int64_t total, cols;
  llvm::Value *flat, *col;
  std::vector<std::pair<int, llvm::Value*>> memo;
  std::vector<std::pair<int, llvm::Value*>> scalars;  // scalar operands, loaded once before the loop
  int width = 0;                                      // > 0: `active` lanes from flat (and col) on
  int64_t active = 0;
};

llvm::Value* value_of(Ctx& c, int id);

llvm::Value* operand(Ctx& c, int id) {
  if (std::find(c.group.begin(), c.group.end(), id) != c.group.end()) return value_of(c, id);
  Emitter& e = c.e;
  for (auto& [n, v] : c.scalars)
    if (n == id) return c.width ? e.splat(v, c.width) : v;
  const int64_t p = e.g.node(id).shape.numel();
  if (c.width) {  // elementwise_vectorisable: every operand is whole, a row's period or a scalar
    if (p == 1) return e.splat(e.load(e.base(id), e.c64(0)), c.width);
    return e.vload(e.gep(e.base(id), p == c.total ? c.flat : c.col), c.active, c.width);
  }
  llvm::Value* idx = p == c.total ? c.flat : p == 1 ? e.c64(0) : p == c.cols ? c.col : e.b.CreateURem(c.flat, e.c64(p));
  return e.load(e.base(id), idx);
}

// Inverted dropout: keep = (mix32(i ^ mix32(key + golden)) >> 8) >= threshold, exactly as
// autodiff/rng.h, scaled by 1/(1 - rate). In vector mode the lanes hash their own flat indices.
llvm::Value* dropout_value(Ctx& c, const Node& n, llvm::Value* x) {
  Emitter& e = c.e;
  auto& b = e.b;
  if (!n.a.training || n.a.value == 0.f) return x;
  auto mix = [&](llvm::Value* v) {
    auto k = [&](uint32_t u) { return llvm::ConstantInt::get(v->getType(), u); };
    v = b.CreateXor(v, b.CreateLShr(v, k(16)));
    v = b.CreateMul(v, k(0x7feb352du));
    v = b.CreateXor(v, b.CreateLShr(v, k(15)));
    v = b.CreateMul(v, k(0x846ca68bu));
    return b.CreateXor(v, b.CreateLShr(v, k(16)));
  };
  llvm::Value* key = b.CreateLoad(e.i32, e.base(n.in[1]));
  llvm::Value* hk = mix(b.CreateAdd(key, b.getInt32(0x9e3779b9u)));
  // A data-parallel rank's slice of the global batch draws the global run's mask elements.
  const auto offset = static_cast<uint32_t>(static_cast<uint64_t>(n.a.slice) * static_cast<uint64_t>(n.shape.numel()));
  llvm::Value* idx = b.CreateAdd(b.CreateTrunc(c.flat, e.i32), b.getInt32(offset));
  if (c.width) {
    std::vector<uint32_t> lane(static_cast<size_t>(c.width));
    for (size_t l = 0; l < lane.size(); ++l) lane[l] = static_cast<uint32_t>(l);
    idx = b.CreateAdd(b.CreateVectorSplat(static_cast<unsigned>(c.width), idx),
                      llvm::ConstantDataVector::get(b.getContext(), lane));
    hk = b.CreateVectorSplat(static_cast<unsigned>(c.width), hk);
  }
  llvm::Value* h = mix(b.CreateXor(idx, hk));
  llvm::Value* keep = b.CreateICmpUGE(b.CreateLShr(h, llvm::ConstantInt::get(h->getType(), 8)),
                                      llvm::ConstantInt::get(h->getType(), dropout_threshold(n.a.value)));
  IrMath m{e, c.width};
  return b.CreateSelect(keep, b.CreateFMul(x, m.c(1.f / (1.f - n.a.value))), m.c(0.f));
}

// A chunk sum (is_chunk_sum) at the group's index: its chunks added in order from +0, as the sum
// kernel adds them.
llvm::Value* chunk_sum_value(Ctx& c, const Node& n) {
  Emitter& e = c.e;
  const Node& x = e.g.node(n.in[0]);
  llvm::Value* s = c.width ? e.splat(e.cf(0.f), c.width) : e.cf(0.f);
  for (int64_t p = 0; p < x.shape[0]; ++p) {
    llvm::Value* at = e.add(c.flat, e.c64(p * c.total));
    s = e.b.CreateFAdd(s, c.width ? e.vload(e.gep(e.base(x.id), at), c.active, c.width) : e.load(e.base(x.id), at));
  }
  return s;
}

llvm::Value* value_of(Ctx& c, int id) {
  for (auto& [n, v] : c.memo)
    if (n == id) return v;
  const Node& n = c.e.g.node(id);
  if (n.op == Op::Sum) {  // the plan inlines only chunk sums as large as the group
    llvm::Value* s = chunk_sum_value(c, n);
    c.memo.emplace_back(id, s);
    return s;
  }
  llvm::Value* x = operand(c, n.in[0]);
  if (n.op == Op::Reshape) return x;  // a view inlined between two elementwise stages: same flat index
  // Every other op: its one definition (autodiff/elementwise.h) emitted as IR.
  llvm::Value* r = n.op == Op::Dropout ? dropout_value(c, n, x)
                                       : apply_elementwise(IrMath{c.e, c.width}, n.op, x,
                                                           n.in.size() > 1 ? operand(c, n.in[1]) : nullptr, n.a);
  c.memo.emplace_back(id, r);
  return r;
}

// Every node of `outs` at c's index, all computed before any is stored (a rule reads its state
// where it is stored), through one memo: a node several of them read is computed once.
std::vector<llvm::Value*> values_of(Ctx& c, const std::vector<int>& outs) {
  std::vector<llvm::Value*> v;
  for (int o : outs) v.push_back(value_of(c, o));
  return v;
}

// Stores each of c's `outs` at its index: vectors of c.active lanes, or scalars.
void store_values(Ctx& c, const std::vector<int>& outs) {
  const std::vector<llvm::Value*> v = values_of(c, outs);
  for (size_t i = 0; i < outs.size(); ++i)
    if (c.width)
      c.e.vstore(v[i], c.e.gep(c.e.base(outs[i]), c.flat), c.active);
    else
      c.e.store(v[i], c.e.base(outs[i]), c.flat);
}
}  // namespace

llvm::Value* elementwise_value(Emitter& e, const std::vector<int>& group, int node, int64_t total, int64_t cols,
                               llvm::Value* flat, llvm::Value* col) {
  Ctx c{e, group, total, cols, flat, col, {}, {}};
  return value_of(c, node);
}

bool elementwise_vectorisable(const Graph& g, const std::vector<int>& group, int64_t total, int64_t cols) {
  for (int id : group) {
    const Node& n = g.node(id);
    // Log's exponent bits are written for scalars; dropout hashes a vector of indices.
    if (n.op == Op::Reshape) continue;  // a view of a group member
    if (n.op == Op::Sum) {              // chunks read whole at the group's index
      if (!is_chunk_sum(g, n) || n.shape.numel() != total) return false;
      continue;
    }
    const bool dropout = n.op == Op::Dropout;
    if ((!dropout && !is_map_op(n.op, op_info(n.op).kind)) || n.op == Op::Log || n.op == Op::Softplus) return false;
    for (int in : dropout ? std::vector<int>{n.in[0]} : n.in) {  // dropout's key: one i32, splat
      const int64_t p = g.node(in).shape.numel();
      const bool inside = std::find(group.begin(), group.end(), in) != group.end();
      if (!inside && (g.node(in).dtype != DType::F32 || (p != total && p != cols && p != 1))) return false;
    }
  }
  return true;
}

std::vector<llvm::Value*> elementwise_vectors(Emitter& e, const std::vector<int>& group, const std::vector<int>& nodes,
                                              int64_t total, int64_t cols, llvm::Value* flat, llvm::Value* col,
                                              int64_t active, Given given) {
  std::vector<int> members(group);
  Ctx c{e, members, total, cols, flat, col, {}, {}, e.lanes, active};
  if (given.value) {  // computed by the caller (a GEMM's accumulator): a member already evaluated
    members.push_back(given.node);
    c.memo.emplace_back(given.node, given.value);
  }
  return values_of(c, nodes);
}

llvm::Value* elementwise_vector(Emitter& e, const std::vector<int>& group, int node, int64_t total, int64_t cols,
                                llvm::Value* flat, llvm::Value* col, int64_t active, Given given) {
  return elementwise_vectors(e, group, {node}, total, cols, flat, col, active, given)[0];
}

// Rows of at most this many vectors are emitted as vectors, unrolled (longer ones: LLVM's loop).
constexpr int64_t kVectorRowsMax = 8;

std::vector<int> stored_nodes(const Graph& g, const KernelInfo& k) {
  std::vector<int> out;
  for (const Graph::Update& u : g.updates())
    if (std::find(k.fused.begin(), k.fused.end(), u.value) != k.fused.end()) out.push_back(u.value);
  out.push_back(k.node);
  std::sort(out.begin(), out.end());
  return out;
}

// A flat kernel storing several rules, as explicit vectors: LLVM's vectoriser would need a runtime
// alias check between every pair of the states read and written in place. Chunks start at whole
// vectors; the thread holding the end stores the last partial vector masked.
void flat_vectors(Emitter& e, const std::vector<int>& group, const std::vector<int>& outs, int64_t total, int64_t cols,
                  const std::vector<std::pair<int, llvm::Value*>>& scalars) {
  const int64_t L = e.lanes, whole = total / L * L;
  auto store = [&](llvm::Value* flat, int64_t active) {
    Ctx c{e, group, total, cols, flat, flat, {}, scalars, e.lanes, active};
    store_values(c, outs);
  };
  llvm::Value* end = e.mul(e.hi, e.c64(cols));
  end = e.b.CreateSelect(e.b.CreateICmpSLT(end, e.c64(whole)), end, e.c64(whole));
  e.loop(e.b.CreateUDiv(e.mul(e.lo, e.c64(cols)), e.c64(L)), e.b.CreateUDiv(end, e.c64(L)),
         [&](llvm::Value* v) { store(e.mul(v, e.c64(L)), L); });
  if (whole < total)
    e.if_else(e.b.CreateICmpSGE(e.mul(e.hi, e.c64(cols)), e.c64(total)), [&] { store(e.c64(whole), total - whole); });
}

void emit_elementwise(Emitter& e, const KernelInfo& k) {
  const Node& root = e.g.node(k.node);
  std::vector<int> group = k.fused;
  group.push_back(k.node);
  const int64_t cols = elementwise_cols(e.g, root, k.fused);
  const int64_t total = root.shape.numel();
  const std::vector<int> outs = stored_nodes(e.g, k);
  // Scalar operands (the learning rate, a loss scale) are loaded once: inside the loop the store to
  // `out` could alias them, and LLVM would reload them per element.
  std::vector<std::pair<int, llvm::Value*>> scalars;
  for (int id : group)
    for (int in : e.g.node(id).in)
      if (e.g.node(in).shape.numel() == 1 && e.g.node(in).dtype == DType::F32 &&
          std::find(group.begin(), group.end(), in) == group.end() && e.g.node(id).op != Op::Dropout)
        scalars.emplace_back(in, e.load(e.base(in), e.c64(0)));
  auto element = [&](llvm::Value* flat, llvm::Value* col) {
    Ctx c{e, group, total, cols, flat, col, {}, scalars};
    store_values(c, outs);
  };
  const bool period = elementwise_period(e.g, root, k.fused) != 0;
  if (!period && outs.size() > 1 && (cols % e.lanes == 0 || cols >= total) &&
      elementwise_vectorisable(e.g, group, total, cols))
    return flat_vectors(e, group, outs, total, cols, scalars);
  if (!period) {  // else an operand repeats every `cols`: rows × cols
    // Flat: elements [lo·cols, min(hi·cols, total)) in one loop.
    llvm::Value* end = e.mul(e.hi, e.c64(cols));
    end = e.b.CreateSelect(e.b.CreateICmpSLT(end, e.c64(total)), end, e.c64(total));
    e.loop(e.mul(e.lo, e.c64(cols)), end, [&](llvm::Value* flat) { element(flat, flat); });
    return;
  }
  if (cols <= kVectorRowsMax * e.lanes && elementwise_vectorisable(e.g, group, total, cols)) {
    // Short rows (batch norm's 32 channels over 86528 positions) as explicit vectors: LLVM's
    // vectoriser checked aliasing once per row and ran 832 µs where this runs 3-4× faster.
    e.loop(e.lo, e.hi, [&](llvm::Value* r) {
      llvm::Value* row0 = e.mul(r, e.c64(cols));
      for (int64_t c0 = 0; c0 < cols; c0 += e.lanes) {
        const int64_t active = std::min<int64_t>(e.lanes, cols - c0);
        llvm::Value* flat = e.add(row0, e.c64(c0));
        Ctx c{e, group, total, cols, flat, e.c64(c0), {}, scalars, e.lanes, active};
        store_values(c, outs);
      }
    });
    return;
  }
  e.loop(e.lo, e.hi, [&](llvm::Value* r) {
    llvm::Value* row0 = e.mul(r, e.c64(cols));
    e.loop(e.c64(0), e.c64(cols), [&](llvm::Value* col) { element(e.add(row0, col), col); });
  });
}

}  // namespace gradc
