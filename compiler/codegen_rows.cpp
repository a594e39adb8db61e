// Reductions, layout changes, row-wise ops (softmax family, one_hot), losses and update copies.
#include <llvm/IR/Intrinsics.h>

#include <functional>

#include "compiler/emitter.h"

namespace gradc {

namespace {
// Reduction view of x along axis: [outer, n, inner].
struct Split {
  int64_t outer = 1, n = 1, inner = 1;
};
Split split(const Shape& s, int axis) {
  Split r;
  for (int k = 0; k < s.rank; ++k) (k < axis ? r.outer : k == axis ? r.n : r.inner) *= s[k];
  return r;
}

// acc += v with reassociation allowed so LLVM can vectorise a serial sum; the order is still a
// fixed function of the code, never of the thread count.
llvm::Value* fadd_reassoc(Emitter& e, llvm::Value* acc, llvm::Value* v) {
  llvm::Value* s = e.b.CreateFAdd(acc, v);
  llvm::cast<llvm::Instruction>(s)->setHasAllowReassoc(true);
  return s;
}

void row_logsumexp(Emitter& e, llvm::Value* x, llvm::Value* row0, int64_t C, llvm::Value* mx_slot,
                   llvm::Value* sum_slot) {
  auto& b = e.b;
  b.CreateStore(llvm::ConstantFP::getInfinity(e.f32, true), mx_slot);
  e.loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
    b.CreateStore(e.fmax(b.CreateLoad(e.f32, mx_slot), e.load(x, e.add(row0, j))), mx_slot);
  });
  llvm::Value* mx = b.CreateLoad(e.f32, mx_slot);
  b.CreateStore(e.cf(0.f), sum_slot);
  e.loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
    llvm::Value* ex = e.exp(b.CreateFSub(e.load(x, e.add(row0, j)), mx));
    b.CreateStore(fadd_reassoc(e, b.CreateLoad(e.f32, sum_slot), ex), sum_slot);
  });
}

// A row of at most spec.tile elements (the 10-class logits) held in one vector of `w` = spec.tile
// lanes — one zmm with AVX-512, two ymm with AVX2 — rather than loops running a scalar exp per
// element. Lanes past C are masked off for the max and the sum.
struct ShortRow {
  int w;             // vector width
  llvm::Value* x;    // the row, zeros past C
  llvm::Value* lse;  // log Σ exp(x)
};

ShortRow short_row(Emitter& e, llvm::Value* x, llvm::Value* row0, int64_t C, int w) {
  auto& b = e.b;
  std::vector<llvm::Constant*> idx;
  for (int l = 0; l < w; ++l) idx.push_back(b.getInt32(static_cast<uint32_t>(l)));
  llvm::Value* lanes = llvm::ConstantVector::get(idx);
  llvm::Value* ok = b.CreateICmpSLT(lanes, e.splat(b.getInt32(static_cast<uint32_t>(C)), w));
  llvm::Value* xv = e.vload(e.gep(x, row0), C, w);
  llvm::Value* ninf = llvm::ConstantFP::getInfinity(e.vec(w), true);
  llvm::Value* mx = b.CreateFPMaxReduce(b.CreateSelect(ok, xv, ninf));
  llvm::Value* ex = e.exp(b.CreateFSub(xv, e.splat(mx, w)));
  ex = b.CreateSelect(ok, ex, llvm::Constant::getNullValue(e.vec(w)));
  llvm::Value* sum = b.CreateFAddReduce(e.cf(0.f), ex);
  llvm::cast<llvm::Instruction>(sum)->setHasAllowReassoc(true);  // a fixed tree order
  return {w, xv, b.CreateFAdd(mx, e.log(sum))};
}

// Column sums of x viewed as [n, inner] (a bias gradient: dY summed over its rows) for the columns
// [lo, hi) (rounded to whole vectors: the range holding a vector's first column sums it) of the
// rows starting at flat index `first`, into out[0, inner). Up to four vectors of columns accumulate
// in registers over all n rows, in row order as the scalar loop adds them; the scalar loop kept its
// sums in `out`, a load and a store per row whose latency chain measured 7 GB/s ([15488, 64]:
// 543 µs on one thread). `in(flat, col, active)` is a vector of the operand: loaded, or computed
// from a fused elementwise producer chain.
using VectorIn = std::function<llvm::Value*(llvm::Value* flat, llvm::Value* col, int64_t active)>;
struct Columns {
  int64_t n, inner;
  llvm::Value *lo, *hi, *first;
};
void column_sums(Emitter& e, const VectorIn& in, llvm::Value* out, const Columns& cs, bool mean) {
  auto& b = e.b;
  const int64_t n = cs.n, inner = cs.inner;
  const int64_t L = e.lanes, nvec = (inner + L - 1) / L, tail = inner - (nvec - 1) * L,
                nfull = tail == L ? nvec : nvec - 1;
  constexpr int64_t G = 4;
  auto vidx = [&](llvm::Value* col) { return b.CreateSDiv(e.add(col, e.c64(L - 1)), e.c64(L)); };
  llvm::Value* vlo = vidx(cs.lo);
  llvm::Value* vhi = vidx(cs.hi);
  // Vectors [v0, v0 + nv) of columns, the last with `last` active lanes.
  auto group = [&](llvm::Value* v0, int nv, int64_t last) {
    std::vector<llvm::Value*> acc(static_cast<size_t>(nv));
    for (auto& a : acc) {
      a = e.slot(e.vec(), "colsum");
      b.CreateStore(llvm::Constant::getNullValue(e.vec()), a);
    }
    llvm::Value* c0 = e.mul(v0, e.c64(L));
    e.loop(e.c64(0), e.c64(n), [&](llvm::Value* k) {
      llvm::Value* row = e.add(cs.first, e.add(e.mul(k, e.c64(inner)), c0));
      for (int i = 0; i < nv; ++i) {
        llvm::Value* v = in(e.add(row, e.c64(i * L)), e.add(c0, e.c64(i * L)), i == nv - 1 ? last : L);
        b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), acc[static_cast<size_t>(i)]), v), acc[static_cast<size_t>(i)]);
      }
    });
    for (int i = 0; i < nv; ++i) {
      llvm::Value* s = b.CreateLoad(e.vec(), acc[static_cast<size_t>(i)]);
      if (mean) s = b.CreateFDiv(s, e.splat(e.cf(static_cast<float>(n))));
      e.vstore(s, e.gep(out, e.add(c0, e.c64(i * L))), i == nv - 1 ? last : L);
    }
  };
  llvm::Value* fhi = b.CreateSelect(b.CreateICmpSLT(vhi, e.c64(nfull)), vhi, e.c64(nfull));
  llvm::Value* span = b.CreateSub(fhi, vlo);
  llvm::Value* groups = b.CreateSelect(b.CreateICmpSGT(span, e.c64(0)), b.CreateSDiv(span, e.c64(G)), e.c64(0));
  e.loop(e.c64(0), groups, [&](llvm::Value* t) { group(e.add(vlo, e.mul(t, e.c64(G))), G, L); });
  // The 1-3 full vectors left: one group of their count, so each row is read once.
  llvm::Value* v0 = e.add(vlo, e.mul(groups, e.c64(G)));
  llvm::Value* rest = b.CreateSub(fhi, v0);
  for (int nv = 1; nv < G; ++nv) e.if_else(b.CreateICmpEQ(rest, e.c64(nv)), [&] { group(v0, nv, L); });
  if (nfull < nvec)
    e.if_else(b.CreateAnd(b.CreateICmpSLE(vlo, e.c64(nfull)), b.CreateICmpSGT(vhi, e.c64(nfull))),
              [&] { group(e.c64(nfull), 1, tail); });
}
}  // namespace

void emit_reduce(Emitter& e, const KernelInfo& k) {
  auto& b = e.b;
  const Node& n = e.g.node(k.node);
  if (k.fold_parts > 0) {  // the plan's norm_epilogues: a GEMM's partial sums of squares, added in order
    llvm::Value* out = e.base(k.node);
    llvm::Value* acc = e.slot(e.f32);
    b.CreateStore(e.cf(0.f), acc);
    e.loop(e.c64(0), e.c64(k.fold_parts),
           [&](llvm::Value* i) { b.CreateStore(b.CreateFAdd(b.CreateLoad(e.f32, acc), e.load(out, i)), acc); });
    e.store(b.CreateLoad(e.f32, acc), out, e.c64(0));
    return;
  }
  llvm::Value* x = e.base(n.in[0]);
  llvm::Value* out = e.base(k.node);
  const Shape& xs = e.g.node(n.in[0]).shape;
  const bool mean = n.op == Op::Mean;
  // The reduced operand: loaded, or computed in registers when the plan fused its producer chain.
  auto input = [&](llvm::Value* flat, llvm::Value* col, int64_t cols) {
    if (k.fused.empty()) return e.load(x, flat);
    return elementwise_value(e, k.fused, n.in[0], xs.numel(), cols, flat, col);
  };
  if (n.a.axis == -1) {
    llvm::Value* acc = e.slot(e.f32);
    b.CreateStore(e.cf(0.f), acc);
    e.loop(e.c64(0), e.c64(xs.numel()), [&](llvm::Value* i) {
      b.CreateStore(fadd_reassoc(e, b.CreateLoad(e.f32, acc), input(i, i, xs.numel())), acc);
    });
    llvm::Value* s = b.CreateLoad(e.f32, acc);
    if (mean) s = b.CreateFDiv(s, e.cf(static_cast<float>(xs.numel())));
    e.store(s, out, e.c64(0));
    return;
  }
  const Split s = split(xs, n.a.axis);
  if (s.inner >= e.lanes && (k.fused.empty() || elementwise_vectorisable(e.g, k.fused, xs.numel(), s.inner))) {
    const VectorIn in = [&](llvm::Value* flat, llvm::Value* col, int64_t active) {
      if (k.fused.empty()) return e.vload(e.gep(x, flat), active);
      return elementwise_vector(e, k.fused, n.in[0], xs.numel(), s.inner, flat, col, active);
    };
    // One [n, inner] slab: the range splits its columns. Several (split-rows' chunks of rows, and
    // any reduction over a middle axis): the range splits the slabs, each summed whole.
    if (s.outer == 1) return column_sums(e, in, out, {s.n, s.inner, e.lo, e.hi, e.c64(0)}, mean);
    e.loop(e.lo, e.hi, [&](llvm::Value* o) {
      column_sums(e, in, e.gep(out, e.mul(o, e.c64(s.inner))),
                  {s.n, s.inner, e.c64(0), e.c64(s.inner), e.mul(o, e.c64(s.n * s.inner))}, mean);
    });
    return;
  }
  // Parallel over outer rows when there are several, else over inner columns; both keep the
  // k loop outside the contiguous j loop so the j loop vectorises.
  const bool by_outer = s.outer > 1;
  auto body = [&](llvm::Value* o, llvm::Value* jlo, llvm::Value* jhi) {
    llvm::Value* orow = e.mul(o, e.c64(s.inner));
    e.loop(jlo, jhi, [&](llvm::Value* j) { e.store(e.cf(0.f), out, e.add(orow, j)); });
    e.loop(e.c64(0), e.c64(s.n), [&](llvm::Value* kk) {
      llvm::Value* xrow = e.mul(e.add(e.mul(o, e.c64(s.n)), kk), e.c64(s.inner));
      e.loop(jlo, jhi, [&](llvm::Value* j) {
        llvm::Value* dst = e.add(orow, j);
        e.store(b.CreateFAdd(e.load(out, dst), input(e.add(xrow, j), j, s.inner)), out, dst);
      });
    });
    if (mean)
      e.loop(jlo, jhi, [&](llvm::Value* j) {
        llvm::Value* dst = e.add(orow, j);
        e.store(b.CreateFDiv(e.load(out, dst), e.cf(static_cast<float>(s.n))), out, dst);
      });
  };
  if (by_outer)
    e.loop(e.lo, e.hi, [&](llvm::Value* o) { body(o, e.c64(0), e.c64(s.inner)); });
  else
    body(e.c64(0), e.lo, e.hi);
}

// In-register transpose of L rows of L lanes (L = v.size(), a power of two): stage b swaps the
// off-diagonal b×b blocks of every 2b×2b block, so after b = L/2, ..., 2, 1 element (i, l) has
// moved to (l, i).
void transpose_tile(Emitter& e, std::vector<llvm::Value*>& v) {
  const int L = static_cast<int>(v.size());
  for (int bsz = L / 2; bsz >= 1; bsz /= 2) {
    std::vector<int> lo_mask, hi_mask;
    for (int l = 0; l < L; ++l) {
      lo_mask.push_back((l & bsz) ? L + l - bsz : l);
      hi_mask.push_back((l & bsz) ? L + l : l + bsz);
    }
    for (int i = 0; i < L; ++i) {
      if (i & bsz) continue;
      llvm::Value* a = v[static_cast<size_t>(i)];
      llvm::Value* c = v[static_cast<size_t>(i + bsz)];
      v[static_cast<size_t>(i)] = e.b.CreateShuffleVector(a, c, lo_mask);
      v[static_cast<size_t>(i + bsz)] = e.b.CreateShuffleVector(a, c, hi_mask);
    }
  }
}

void emit_layout(Emitter& e, const KernelInfo& k) {
  const Node& n = e.g.node(k.node);
  llvm::Value* x = e.base(n.in[0]);
  llvm::Value* out = e.base(k.node);
  if (n.op == Op::Transpose) {
    // out[c][r] = x[r][c] in T×T tiles (T = spec.tile, one vector per row): T row loads, a
    // log2(T)-stage shuffle network, T row stores (the element-wise gather was strided on every
    // load). Parallel over T-row blocks of out.
    const int64_t T = k.spec.tile;
    const int64_t R = n.shape[1], C = n.shape[0], rfull = R / T;
    auto block = [&](llvm::Value* c0, int64_t cw) {  // out rows [c0, c0 + cw), cw <= T
      if (rfull > 0)
        e.loop(e.c64(0), e.c64(rfull), [&](llvm::Value* rb) {
          llvm::Value* r0 = e.mul(rb, e.c64(T));
          std::vector<llvm::Value*> v;
          for (int64_t i = 0; i < T; ++i)
            v.push_back(e.vload(e.gep(x, e.add(e.mul(e.add(r0, e.c64(i)), e.c64(C)), c0)), cw));
          transpose_tile(e, v);
          for (int64_t i = 0; i < cw; ++i)
            e.vstore(v[static_cast<size_t>(i)], e.gep(out, e.add(e.mul(e.add(c0, e.c64(i)), e.c64(R)), r0)), T);
        });
      if (R % T)  // the last R % T columns of out: one scalar loop nest (unrolled copies cost compile time)
        e.loop(e.c64(0), e.c64(cw), [&](llvm::Value* i) {
          llvm::Value* c = e.add(c0, i);
          e.loop(e.c64(rfull * T), e.c64(R), [&](llvm::Value* r) {
            e.store(e.load(x, e.add(e.mul(r, e.c64(C)), c)), out, e.add(e.mul(c, e.c64(R)), r));
          });
        });
    };
    const int64_t cfull = C / T, ctail = C % T;
    e.loop(e.lo, e.hi, [&](llvm::Value* cb) {
      if (ctail == 0) return block(e.mul(cb, e.c64(T)), T);
      e.if_else(
          e.b.CreateICmpSLT(cb, e.c64(cfull)), [&] { block(e.mul(cb, e.c64(T)), T); },
          [&] { block(e.c64(cfull * T), ctail); });
    });
    return;
  }
  if (n.op == Op::Broadcast) {
    if (n.a.axis == -1) {
      llvm::Value* v = e.load(x, e.c64(0));
      e.loop(e.c64(0), e.c64(n.shape.numel()), [&](llvm::Value* i) { e.store(v, out, i); });
      return;
    }
    const Split s = split(n.shape, n.a.axis);  // rows q = o·n + k of `inner` elements
    e.loop(e.lo, e.hi, [&](llvm::Value* q) {
      llvm::Value* src = e.mul(e.b.CreateSDiv(q, e.c64(s.n)), e.c64(s.inner));
      llvm::Value* dst = e.mul(q, e.c64(s.inner));
      e.loop(e.c64(0), e.c64(s.inner), [&](llvm::Value* j) { e.store(e.load(x, e.add(src, j)), out, e.add(dst, j)); });
    });
    return;
  }
  throw std::logic_error(std::string("gradc: no layout lowering for ") + op_name(n.op));
}

namespace {
// softmax_xent_grad's operands; `total` a vector slot summing each lane's loss when the kernel also
// yields the mean loss, else null.
struct XentGrad {
  llvm::Value *x, *labels, *scale, *out;
  int64_t C;
  llvm::Value* total;
};

// softmax_xent_grad of rows [r_begin, r_end) with C ≤ a few vectors of classes, the rows in the
// lanes: each group of L rows is copied into a stack array as C vectors (lane l: row r0 + l's class
// j), so the max, the sum of exps and the log run once per L rows on whole vectors, instead of two
// horizontal reductions and a scalar log per row (a 128 × 10 batch: 6.1-6.9 µs per step on Zen 5
// that way; 2.4 µs on AVX2 and 1.6 on AVX-512 this way). A group past the last row repeats the last
// row in its idle lanes: their results are that row's, stored again, and they are left out of the
// loss. The class loops stay rolled (one copy of each exp, not C) and the rows pass through the
// array by scalar copies: register transposes and unrolled loops ran 0.4-0.5 µs faster but made the
// kernel 12× the IR and the dnn step's compile 15-20 ms longer; gathers were slower on both counts.
void xent_grad_in_lanes(Emitter& e, const XentGrad& a, llvm::Value* r_begin, llvm::Value* r_end) {
  auto& b = e.b;
  const int64_t L = e.lanes, C = a.C;
  llvm::Value* zero = llvm::Constant::getNullValue(e.vec());
  llvm::Value* cols = e.slot(llvm::ArrayType::get(e.f32, static_cast<uint64_t>(C * L)), "classes");  // [C][L]
  llvm::cast<llvm::AllocaInst>(cols)->setAlignment(llvm::Align(static_cast<uint64_t>(L) * 4));       // whole vectors
  llvm::Value* mx = e.slot(e.vec());
  llvm::Value* sum = e.slot(e.vec());
  llvm::Value* xl = e.slot(e.vec());
  auto col = [&](llvm::Value* j) { return e.gep(cols, e.mul(j, e.c64(L))); };
  llvm::Value* last_row = b.CreateSub(r_end, e.c64(1));
  llvm::Value* groups = b.CreateSDiv(e.add(b.CreateSub(r_end, r_begin), e.c64(L - 1)), e.c64(L));
  // Row r0 + l, or the last row for a lane past it.
  auto row = [&](llvm::Value* r0, llvm::Value* l) {
    llvm::Value* r = e.add(r0, l);
    return b.CreateSelect(b.CreateICmpSLT(r, r_end), r, last_row);
  };
  // Element (row, class j) of a [rows, C] buffer <-> lane l of class vector j, for each lane and class.
  auto copy = [&](llvm::Value* r0, bool in) {
    e.rolled_loop(e.c64(0), e.c64(L), [&](llvm::Value* l) {
      llvm::Value* at = e.mul(row(r0, l), e.c64(C));
      e.loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
        llvm::Value* lane = e.add(e.mul(j, e.c64(L)), l);
        if (in)
          e.store(e.load(a.x, e.add(at, j)), cols, lane);
        else
          e.store(e.load(cols, lane), a.out, e.add(at, j));
      });
    });
  };
  std::vector<llvm::Constant*> iota;
  for (int64_t l = 0; l < L; ++l) iota.push_back(b.getInt64(static_cast<uint64_t>(l)));
  llvm::Value* lanes = llvm::ConstantVector::get(iota);
  e.loop(e.c64(0), groups, [&](llvm::Value* g) {
    llvm::Value* r0 = e.add(r_begin, e.mul(g, e.c64(L)));
    llvm::Value* valid = b.CreateICmpSLT(b.CreateAdd(b.CreateVectorSplat(static_cast<unsigned>(L), r0), lanes),
                                         b.CreateVectorSplat(static_cast<unsigned>(L), r_end));
    llvm::Value* lab = llvm::PoisonValue::get(llvm::FixedVectorType::get(e.i32, L));
    for (int64_t l = 0; l < L; ++l)
      lab = b.CreateInsertElement(lab, b.CreateLoad(e.i32, b.CreateInBoundsGEP(e.i32, a.labels, row(r0, e.c64(l)))), l);
    auto hot = [&](llvm::Value* j) { return b.CreateICmpEQ(lab, e.splat(b.CreateTrunc(j, e.i32))); };
    copy(r0, true);
    b.CreateStore(llvm::ConstantFP::getInfinity(e.vec(), true), mx);
    e.rolled_loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
      b.CreateStore(e.fmax(b.CreateLoad(e.vec(), mx), b.CreateLoad(e.vec(), col(j))), mx);
    });
    llvm::Value* m = b.CreateLoad(e.vec(), mx);
    b.CreateStore(zero, sum);
    b.CreateStore(zero, xl);  // x[label]: exactly one class matches
    e.rolled_loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
      llvm::Value* c = b.CreateLoad(e.vec(), col(j));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), sum), e.exp(b.CreateFSub(c, m))), sum);
      b.CreateStore(b.CreateSelect(hot(j), c, b.CreateLoad(e.vec(), xl)), xl);
    });
    llvm::Value* lse = b.CreateFAdd(m, e.log(b.CreateLoad(e.vec(), sum)));
    if (a.total) {
      llvm::Value* loss = b.CreateSelect(valid, b.CreateFSub(lse, b.CreateLoad(e.vec(), xl)), zero);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), a.total), loss), a.total);
    }
    llvm::Value* one = llvm::ConstantFP::get(e.vec(), 1.0);
    e.rolled_loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
      llvm::Value* p =
          b.CreateFSub(e.exp(b.CreateFSub(b.CreateLoad(e.vec(), col(j)), lse)), b.CreateSelect(hot(j), one, zero));
      b.CreateStore(b.CreateFMul(p, e.splat(a.scale)), col(j));
    });
    copy(r0, false);
  });
}

// dlogits = (softmax - onehot)·scale per row; when the plan fused the forward softmax_xent into this
// kernel, the mean loss comes out of the same pass (serially, so the sum's order is fixed).
void emit_xent_grad(Emitter& e, const KernelInfo& k) {
  auto& b = e.b;
  const Node& n = e.g.node(k.node);
  const int64_t C = n.shape.cols();
  llvm::Value* x = e.base(n.in[0]);
  llvm::Value* out = e.base(k.node);
  llvm::Value* labels = e.base(n.in[1]);
  llvm::Value* scale = e.load(e.base(n.in[2]), e.c64(0));
  const int loss_node = k.fused.empty() ? -1 : k.fused[0];
  const bool serial = loss_node >= 0;
  llvm::Value* r_begin = serial ? e.c64(0) : e.lo;
  llvm::Value* r_end = serial ? e.c64(n.shape[0]) : e.hi;
  auto store_mean = [&](llvm::Value* sum) {
    e.store(b.CreateFDiv(sum, e.cf(static_cast<float>(n.shape[0]))), e.base(loss_node), e.c64(0));
  };
  if (C <= k.spec.tile) {
    llvm::Value* total = serial ? e.slot(e.vec()) : nullptr;
    if (serial) b.CreateStore(llvm::Constant::getNullValue(e.vec()), total);
    xent_grad_in_lanes(e, {x, labels, scale, out, C, total}, r_begin, r_end);
    if (serial) {
      llvm::Value* sum = b.CreateFAddReduce(e.cf(0.f), b.CreateLoad(e.vec(), total));
      llvm::cast<llvm::Instruction>(sum)->setHasAllowReassoc(true);  // a fixed tree order
      store_mean(sum);
    }
    return;
  }
  llvm::Value* mx = e.slot(e.f32);
  llvm::Value* sum = e.slot(e.f32);
  llvm::Value* total = e.slot(e.f32);
  b.CreateStore(e.cf(0.f), total);
  e.loop(r_begin, r_end, [&](llvm::Value* r) {
    llvm::Value* row0 = e.mul(r, e.c64(C));
    row_logsumexp(e, x, row0, C, mx, sum);
    llvm::Value* lse = b.CreateFAdd(b.CreateLoad(e.f32, mx), e.log(b.CreateLoad(e.f32, sum)));
    llvm::Value* label = b.CreateSExt(b.CreateLoad(e.i32, b.CreateInBoundsGEP(e.i32, labels, r)), e.i64);
    if (serial)
      b.CreateStore(b.CreateFAdd(b.CreateLoad(e.f32, total), b.CreateFSub(lse, e.load(x, e.add(row0, label)))), total);
    e.loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
      llvm::Value* p = e.exp(b.CreateFSub(e.load(x, e.add(row0, j)), lse));
      p = b.CreateFSub(p, b.CreateSelect(b.CreateICmpEQ(j, label), e.cf(1.f), e.cf(0.f)));
      e.store(b.CreateFMul(p, scale), out, e.add(row0, j));
    });
  });
  if (serial) store_mean(b.CreateLoad(e.f32, total));
}
}  // namespace

void emit_row(Emitter& e, const KernelInfo& k) {
  auto& b = e.b;
  const Node& n = e.g.node(k.node);
  llvm::Value* x = e.base(n.in[0]);
  llvm::Value* out = e.base(k.node);
  if (n.op == Op::OneHot) {  // labels outside [0, depth) leave the row zero (loaders validate labels)
    const int64_t D = n.a.depth;
    e.loop(e.lo, e.hi, [&](llvm::Value* r) {
      llvm::Value* row0 = e.mul(r, e.c64(D));
      llvm::Value* label = b.CreateSExt(b.CreateLoad(e.i32, b.CreateInBoundsGEP(e.i32, x, r)), e.i64);
      e.loop(e.c64(0), e.c64(D), [&](llvm::Value* j) {
        e.store(b.CreateSelect(b.CreateICmpEQ(j, label), e.cf(1.f), e.cf(0.f)), out, e.add(row0, j));
      });
    });
    return;
  }
  if (n.op == Op::SoftmaxXentGrad) return emit_xent_grad(e, k);
  const int64_t C = n.shape.cols();
  llvm::Value* mx = e.slot(e.f32);
  llvm::Value* sum = e.slot(e.f32);
  e.loop(e.lo, e.hi, [&](llvm::Value* r) {
    llvm::Value* row0 = e.mul(r, e.c64(C));
    if (C <= k.spec.tile) {
      const ShortRow sr = short_row(e, x, row0, C, static_cast<int>(k.spec.tile));
      llvm::Value* z = b.CreateFSub(sr.x, e.splat(sr.lse, sr.w));
      e.vstore(n.op == Op::Softmax ? e.exp(z) : z, e.gep(out, row0), C, sr.w);
      return;
    }
    row_logsumexp(e, x, row0, C, mx, sum);
    llvm::Value* lse = b.CreateFAdd(b.CreateLoad(e.f32, mx), e.log(b.CreateLoad(e.f32, sum)));
    e.loop(e.c64(0), e.c64(C), [&](llvm::Value* j) {
      llvm::Value* z = b.CreateFSub(e.load(x, e.add(row0, j)), lse);
      e.store(n.op == Op::Softmax ? e.exp(z) : z, out, e.add(row0, j));
    });
  });
}

void emit_loss(Emitter& e, const KernelInfo& k) {
  auto& b = e.b;
  const Node& n = e.g.node(k.node);
  llvm::Value* x = e.base(n.in[0]);
  llvm::Value* t = e.base(n.in[1]);
  llvm::Value* out = e.base(k.node);
  const Shape& xs = e.g.node(n.in[0]).shape;
  llvm::Value* total = e.slot(e.f32);
  b.CreateStore(e.cf(0.f), total);
  if (n.op == Op::SoftmaxXent) {
    const int64_t B = xs[0], C = xs[1];
    llvm::Value* mx = e.slot(e.f32);
    llvm::Value* sum = e.slot(e.f32);
    e.loop(e.c64(0), e.c64(B), [&](llvm::Value* r) {
      llvm::Value* row0 = e.mul(r, e.c64(C));
      llvm::Value* lse = nullptr;
      if (C <= k.spec.tile) {
        lse = short_row(e, x, row0, C, static_cast<int>(k.spec.tile)).lse;
      } else {
        row_logsumexp(e, x, row0, C, mx, sum);
        lse = b.CreateFAdd(b.CreateLoad(e.f32, mx), e.log(b.CreateLoad(e.f32, sum)));
      }
      llvm::Value* label = b.CreateSExt(b.CreateLoad(e.i32, b.CreateInBoundsGEP(e.i32, t, r)), e.i64);
      llvm::Value* loss = b.CreateFSub(lse, e.load(x, e.add(row0, label)));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(e.f32, total), loss), total);
    });
    e.store(b.CreateFDiv(b.CreateLoad(e.f32, total), e.cf(static_cast<float>(B))), out, e.c64(0));
    return;
  }
  // Sigmoid cross-entropy: max(x,0) - x·z + log1p(exp(-|x|)).
  e.loop(e.c64(0), e.c64(xs.numel()), [&](llvm::Value* i) {
    llvm::Value* xv = e.load(x, i);
    llvm::Value* zv = e.load(t, i);
    llvm::Value* relu = e.fmax(xv, e.cf(0.f));
    llvm::Value* ax = e.call_intrinsic(llvm::Intrinsic::fabs, xv);
    llvm::Value* sp = e.call_libm("log1pf", e.exp(b.CreateFNeg(ax)));
    llvm::Value* l = b.CreateFAdd(b.CreateFSub(relu, b.CreateFMul(xv, zv)), sp);
    b.CreateStore(fadd_reassoc(e, b.CreateLoad(e.f32, total), l), total);
  });
  e.store(b.CreateFDiv(b.CreateLoad(e.f32, total), e.cf(static_cast<float>(xs.numel()))), out, e.c64(0));
}

void emit_copy(Emitter& e, const KernelInfo& k) {
  llvm::Value* src = e.base(k.copy_from);
  llvm::Value* dst = e.base(k.node);
  e.loop(e.c64(0), e.c64(e.g.node(k.node).shape.numel()), [&](llvm::Value* i) { e.store(e.load(src, i), dst, i); });
}

}  // namespace gradc
