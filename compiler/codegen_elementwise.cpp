// Elementwise kernels: a group of same-shaped unary/binary nodes evaluated in one loop nest
// rows [lo,hi) × cols, the inner loop contiguous so LLVM vectorises it with zmm registers.
#include <algorithm>

#include "autodiff/rng.h"
#include "compiler/emitter.h"

namespace gradc {

namespace {
struct Ctx {
  Emitter& e;
  const std::vector<int>& group;  // nodes computed in registers
  int64_t total, cols;
  llvm::Value *flat, *col;
  std::vector<std::pair<int, llvm::Value*>> memo;
  std::vector<std::pair<int, llvm::Value*>> scalars;  // scalar operands, loaded once before the loop
};

llvm::Value* value_of(Ctx& c, int id);

llvm::Value* operand(Ctx& c, int id) {
  if (std::find(c.group.begin(), c.group.end(), id) != c.group.end()) return value_of(c, id);
  Emitter& e = c.e;
  for (auto& [n, v] : c.scalars)
    if (n == id) return v;
  const int64_t p = e.g.node(id).shape.numel();
  llvm::Value* idx = p == c.total ? c.flat : p == 1 ? e.c64(0) : p == c.cols ? c.col : e.b.CreateURem(c.flat, e.c64(p));
  return e.load(e.base(id), idx);
}

llvm::Value* value_of(Ctx& c, int id) {
  for (auto& [n, v] : c.memo)
    if (n == id) return v;
  Emitter& e = c.e;
  auto& b = e.b;
  const Node& n = e.g.node(id);
  llvm::Value* x = operand(c, n.in[0]);
  llvm::Value* y = n.in.size() > 1 && n.op != Op::Dropout ? operand(c, n.in[1]) : nullptr;
  llvm::Value* zero = e.cf(0.f);
  llvm::Value* r = nullptr;
  switch (n.op) {
    case Op::Add:
      r = b.CreateFAdd(x, y);
      break;
    case Op::Sub:
      r = b.CreateFSub(x, y);
      break;
    case Op::Mul:
      r = b.CreateFMul(x, y);
      break;
    case Op::Div:
      r = b.CreateFDiv(x, y);
      break;
    case Op::Maximum:
      r = e.fmax(x, y);
      break;
    case Op::ReluGrad:
      r = b.CreateSelect(b.CreateFCmpOGT(x, zero), y, zero);
      break;
    case Op::Neg:
      r = b.CreateFNeg(x);
      break;
    case Op::Exp:
      r = e.exp(x);
      break;
    case Op::Log:
      r = e.log(x);
      break;
    case Op::Sqrt:
      r = e.call_intrinsic(llvm::Intrinsic::sqrt, x);
      break;
    case Op::Square:
      r = b.CreateFMul(x, x);
      break;
    case Op::Relu:
      r = b.CreateSelect(b.CreateFCmpOGT(x, zero), x, zero);
      break;
    case Op::Sigmoid:
      r = b.CreateFDiv(e.cf(1.f), b.CreateFAdd(e.cf(1.f), e.exp(b.CreateFNeg(x))));
      break;
    case Op::Tanh: {  // 1 - 2/(e^{2x} + 1): vectorisable, accurate to ~1e-7 absolute
      llvm::Value* e2 = e.exp(b.CreateFMul(x, e.cf(2.f)));
      r = b.CreateFSub(e.cf(1.f), b.CreateFDiv(e.cf(2.f), b.CreateFAdd(e2, e.cf(1.f))));
      break;
    }
    case Op::Dropout: {
      if (!n.a.training || n.a.value == 0.f) {
        r = x;
        break;
      }
      // keep = (mix32(i ^ mix32(key + golden)) >> 8) >= threshold, exactly as autodiff/rng.h.
      auto mix = [&](llvm::Value* v) {
        v = b.CreateXor(v, b.CreateLShr(v, 16));
        v = b.CreateMul(v, b.getInt32(0x7feb352du));
        v = b.CreateXor(v, b.CreateLShr(v, 15));
        v = b.CreateMul(v, b.getInt32(0x846ca68bu));
        return b.CreateXor(v, b.CreateLShr(v, 16));
      };
      llvm::Value* key = b.CreateLoad(e.i32, e.base(n.in[1]));
      llvm::Value* hk = mix(b.CreateAdd(key, b.getInt32(0x9e3779b9u)));
      // A data-parallel rank's slice of the global batch draws the global run's mask elements.
      const auto offset =
          static_cast<uint32_t>(static_cast<uint64_t>(n.a.slice) * static_cast<uint64_t>(n.shape.numel()));
      llvm::Value* idx = b.CreateAdd(b.CreateTrunc(c.flat, e.i32), b.getInt32(offset));
      llvm::Value* h = mix(b.CreateXor(idx, hk));
      llvm::Value* keep = b.CreateICmpUGE(b.CreateLShr(h, 8), b.getInt32(dropout_threshold(n.a.value)));
      r = b.CreateSelect(keep, b.CreateFMul(x, e.cf(1.f / (1.f - n.a.value))), zero);
      break;
    }
    default:
      throw std::logic_error(std::string("gradc: no elementwise lowering for ") + op_name(n.op));
  }
  c.memo.emplace_back(id, r);
  return r;
}
}  // namespace

llvm::Value* elementwise_value(Emitter& e, const std::vector<int>& group, int node, int64_t total, int64_t cols,
                               llvm::Value* flat, llvm::Value* col) {
  Ctx c{e, group, total, cols, flat, col, {}, {}};
  return value_of(c, node);
}

void emit_elementwise(Emitter& e, const KernelInfo& k) {
  const Node& root = e.g.node(k.node);
  std::vector<int> group = k.fused;
  group.push_back(k.node);
  const int64_t cols = elementwise_cols(e.g, root, k.fused);
  const int64_t total = root.shape.numel();
  llvm::Value* out = e.base(k.node);
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
    e.store(value_of(c, k.node), out, flat);
  };
  if (elementwise_period(e.g, root, k.fused) == 0) {  // else an operand repeats every `cols`: rows × cols
    // Flat: elements [lo·cols, min(hi·cols, total)) in one loop.
    llvm::Value* end = e.mul(e.hi, e.c64(cols));
    end = e.b.CreateSelect(e.b.CreateICmpSLT(end, e.c64(total)), end, e.c64(total));
    e.loop(e.mul(e.lo, e.c64(cols)), end, [&](llvm::Value* flat) { element(flat, flat); });
    return;
  }
  e.loop(e.lo, e.hi, [&](llvm::Value* r) {
    llvm::Value* row0 = e.mul(r, e.c64(cols));
    e.loop(e.c64(0), e.c64(cols), [&](llvm::Value* col) { element(e.add(row0, col), col); });
  });
}

}  // namespace gradc
