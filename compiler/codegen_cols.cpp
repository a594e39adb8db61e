// Implicit GEMM: a convolution's im2col operand read straight from the NHWC input inside the GEMM
// (its A rows while the register tile runs, its B rows while a panel is packed), never written to
// memory. Tap t = (kh, kw, c) sits at t + kh·(W - KW)·C from its window's origin (a window row's
// KW·C taps are contiguous in x), the same for every position; windows inside x need no check,
// taps in the padding read as 0.
#include "compiler/gemm_parts.h"

namespace gradc::gemm {

namespace {
// 0 <= v < n as one unsigned compare (scalars or vectors).
llvm::Value* in_range(Emitter& e, llvm::Value* v, int64_t n) {
  return e.b.CreateICmpULT(v, llvm::ConstantInt::get(v->getType(), static_cast<uint64_t>(n)));
}
llvm::Value* constant_like(llvm::Value* v, int64_t c) {
  return llvm::ConstantInt::get(v->getType(), static_cast<uint64_t>(c));
}

// A tap's place (scalars or vectors of taps): its offset from the window's origin, its row and
// column in the window.
struct Tap {
  llvm::Value *off, *kh, *kw;
};
Tap tap_of(Emitter& e, const WindowGeo& g, llvm::Value* t) {
  auto& b = e.b;
  llvm::Value* kh = b.CreateUDiv(t, constant_like(t, g.KW * g.C));
  llvm::Value* kw = b.CreateUDiv(b.CreateURem(t, constant_like(t, g.KW * g.C)), constant_like(t, g.C));
  return {b.CreateAdd(t, b.CreateMul(kh, constant_like(t, (g.W - g.KW) * g.C))), kh, kw};
}

// Whether a tap of window w is inside x (not in the padding).
llvm::Value* tap_ok(Emitter& e, const WindowGeo& g, const Window& w, const Tap& t) {
  auto& b = e.b;
  llvm::Value* ih0 = w.ih0;
  llvm::Value* iw0 = w.iw0;
  if (t.kh->getType()->isVectorTy()) {
    const auto n = llvm::cast<llvm::FixedVectorType>(t.kh->getType())->getNumElements();
    ih0 = b.CreateVectorSplat(n, b.CreateTrunc(ih0, e.i32));
    iw0 = b.CreateVectorSplat(n, b.CreateTrunc(iw0, e.i32));
  }
  return b.CreateAnd(in_range(e, b.CreateAdd(ih0, t.kh), g.H), in_range(e, b.CreateAdd(iw0, t.kw), g.W));
}

// Whether the window with top-left input element (ih0, iw0) lies inside x (no tap in the padding).
llvm::Value* window_inside(Emitter& e, const WindowGeo& g, llvm::Value* ih0, llvm::Value* iw0) {
  return e.b.CreateAnd(in_range(e, ih0, g.H - g.KH + 1), in_range(e, iw0, g.W - g.KW + 1));
}

// How many output positions from w's to the end of its output row (OW - ow; iw0 = ow·SW - pw).
llvm::Value* to_row_end(Emitter& e, const WindowGeo& g, const Window& w) {
  auto& b = e.b;
  return b.CreateSub(e.c64(g.OW), b.CreateUDiv(b.CreateAdd(w.iw0, e.c64(g.pw)), e.c64(g.SW)));
}
}  // namespace

Cols cols_operand(Emitter& e, const Node& im2col) {
  Cols c;
  c.geo = window_geo(e.g.node(im2col.in[0]).shape, im2col.a);
  c.x = e.base(im2col.in[0]);
  return c;
}

Window window_at(Emitter& e, const Cols& c, llvm::Value* pos) {
  auto& b = e.b;
  const WindowGeo& g = c.geo;
  if (c.first) pos = e.add(c.first, pos);
  llvm::Value* ow = b.CreateURem(pos, e.c64(g.OW));
  llvm::Value* boh = b.CreateUDiv(pos, e.c64(g.OW));
  llvm::Value* oh = b.CreateURem(boh, e.c64(g.OH));
  llvm::Value* bi = b.CreateUDiv(boh, e.c64(g.OH));
  llvm::Value* ih0 = b.CreateSub(e.mul(oh, e.c64(g.SH)), e.c64(g.ph));
  llvm::Value* iw0 = b.CreateSub(e.mul(ow, e.c64(g.SW)), e.c64(g.pw));
  llvm::Value* origin = e.mul(b.CreateAdd(e.mul(b.CreateAdd(e.mul(bi, e.c64(g.H)), ih0), e.c64(g.W)), iw0), e.c64(g.C));
  return {origin, ih0, iw0, window_inside(e, g, ih0, iw0)};
}

// A tile's rows are n consecutive output positions; at most one output row ends among them when
// n <= OW. Decoding every position (three divisions each) cost as many instructions as a K = 9
// tile's FMAs, so only the first position and the next output row's first are decoded; the others
// are a select between the two plus r steps of the stride.
std::vector<Window> windows_from(Emitter& e, const Cols& c, llvm::Value* p0, int n) {
  auto& b = e.b;
  const WindowGeo& g = c.geo;
  std::vector<Window> w;
  if (n > g.OW) {
    for (int r = 0; r < n; ++r) w.push_back(window_at(e, c, e.add(p0, e.c64(r))));
    return w;
  }
  const Window w0 = window_at(e, c, p0);
  llvm::Value* rw = to_row_end(e, g, w0);  // positions before the wrap
  const Window w1 = window_at(e, c, e.add(p0, rw));
  // The next row's windows as if its first were rw steps before it: w1 - rw steps.
  llvm::Value* origin1 = b.CreateSub(w1.origin, e.mul(rw, e.c64(g.SW * g.C)));
  llvm::Value* iw1 = b.CreateSub(w1.iw0, e.mul(rw, e.c64(g.SW)));
  const bool unclipped = windows_unclipped(g);
  for (int r = 0; r < n; ++r) {
    llvm::Value* before = b.CreateICmpULT(e.c64(r), rw);
    Window x;
    x.origin = e.add(b.CreateSelect(before, w0.origin, origin1), e.c64(r * g.SW * g.C));
    x.ih0 = b.CreateSelect(before, w0.ih0, w1.ih0);
    x.iw0 = e.add(b.CreateSelect(before, w0.iw0, iw1), e.c64(r * g.SW));
    x.inside = unclipped ? b.getTrue() : window_inside(e, g, x.ih0, x.iw0);
    w.push_back(x);
  }
  return w;
}

void walk_windows(Emitter& e, const Cols& c, llvm::Value* p0, llvm::Value* n,
                  const std::function<void(llvm::Value*, const Window&)>& body) {
  auto& b = e.b;
  const WindowGeo& g = c.geo;
  llvm::Value* origin = e.slot(e.i64, "origin");
  llvm::Value* ih0 = e.slot(e.i64, "ih0");
  llvm::Value* iw0 = e.slot(e.i64, "iw0");
  llvm::Value* row_end = e.slot(e.i64, "row_end");  // the first position of the next output row
  auto decode = [&](llvm::Value* p) {
    const Window w = window_at(e, c, p);
    b.CreateStore(w.origin, origin);
    b.CreateStore(w.ih0, ih0);
    b.CreateStore(w.iw0, iw0);
    b.CreateStore(e.add(p, to_row_end(e, g, w)), row_end);
  };
  decode(p0);
  const bool unclipped = windows_unclipped(g);
  e.loop(e.c64(0), n, [&](llvm::Value* i) {
    llvm::Value* p = e.add(p0, i);
    e.if_else(b.CreateICmpEQ(p, b.CreateLoad(e.i64, row_end)), [&] { decode(p); });
    Window w{b.CreateLoad(e.i64, origin), b.CreateLoad(e.i64, ih0), b.CreateLoad(e.i64, iw0), b.getTrue()};
    if (!unclipped) w.inside = window_inside(e, g, w.ih0, w.iw0);
    body(i, w);
    b.CreateStore(e.add(w.origin, e.c64(g.SW * g.C)), origin);
    b.CreateStore(e.add(w.iw0, e.c64(g.SW)), iw0);
  });
}

llvm::Value* cols_inside(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap) {
  return e.load(c.x, e.add(w.origin, tap_of(e, c.geo, tap).off));
}

// Where one tap of window w is read: its index in x, or 0 (x[0] is always there) when it lies in
// the padding, and whether it does not (the value read is then used, else 0).
struct Checked {
  llvm::Value *ok, *idx;
};
Checked checked_tap(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap) {
  const Tap t = tap_of(e, c.geo, tap);
  llvm::Value* ok = tap_ok(e, c.geo, w, t);
  return {ok, e.b.CreateSelect(ok, e.add(w.origin, t.off), e.c64(0))};
}

llvm::Value* cols_at(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap) {
  const Checked t = checked_tap(e, c, w, tap);
  return e.b.CreateSelect(t.ok, e.load(c.x, t.idx), e.cf(0.f));
}

llvm::Value* cols_vector(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, int64_t active) {
  auto& b = e.b;
  const WindowGeo& g = c.geo;
  const auto L = static_cast<unsigned>(e.lanes);
  if (g.C % e.lanes == 0 && active == e.lanes) {  // one run of channels of one tap: valid or not as a whole
    const Checked t = checked_tap(e, c, w, tap0);
    return b.CreateSelect(t.ok, e.vload(e.gep(c.x, t.idx), e.lanes), llvm::Constant::getNullValue(e.vec()));
  }
  std::vector<llvm::Constant*> lane;
  for (unsigned l = 0; l < L; ++l) lane.push_back(b.getInt32(l));
  llvm::Value* taps = b.CreateAdd(b.CreateVectorSplat(L, b.CreateTrunc(tap0, e.i32)), llvm::ConstantVector::get(lane));
  const Tap t = tap_of(e, g, taps);
  llvm::Value* real =
      b.CreateICmpULT(taps, b.CreateVectorSplat(L, b.getInt32(static_cast<uint32_t>(g.KH * g.KW * g.C))));
  llvm::Value* live = b.CreateICmpULT(llvm::ConstantVector::get(lane),
                                      b.CreateVectorSplat(L, b.getInt32(static_cast<uint32_t>(active))));
  llvm::Value* ok = b.CreateAnd(b.CreateAnd(tap_ok(e, g, w, t), real), live);
  auto* i64v = llvm::FixedVectorType::get(e.i64, L);
  llvm::Value* idx = b.CreateAdd(b.CreateVectorSplat(L, w.origin), b.CreateSExt(t.off, i64v));
  idx = b.CreateSelect(ok, idx, llvm::Constant::getNullValue(i64v));
  return b.CreateMaskedGather(e.vec(), b.CreateInBoundsGEP(e.f32, c.x, idx), llvm::Align(4), ok,
                              llvm::Constant::getNullValue(e.vec()));
}

llvm::Value* cols_vector_inside(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, int64_t active) {
  return e.vload(e.gep(c.x, e.add(w.origin, tap_of(e, c.geo, tap0).off)), active);
}

void col2im_add(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, llvm::Value* v) {
  auto add = [&](llvm::Value* idx) {
    llvm::Value* p = e.gep(c.x, idx);
    e.vstore(e.b.CreateFAdd(e.vload(p, e.lanes), v), p, e.lanes);
  };
  if (windows_unclipped(c.geo)) return add(e.add(w.origin, tap_of(e, c.geo, tap0).off));
  // A branch, not a masked add at a dummy index: another thread may own that element.
  const Checked t = checked_tap(e, c, w, tap0);
  e.if_else(t.ok, [&] { add(t.idx); });
}

}  // namespace gradc::gemm
