#include "compiler/codegen_window.h"

namespace gradc::win {

llvm::Value* smax(Emitter& e, llvm::Value* x, llvm::Value* y) {
  return e.b.CreateSelect(e.b.CreateICmpSGT(x, y), x, y);
}
llvm::Value* smin(Emitter& e, llvm::Value* x, llvm::Value* y) {
  return e.b.CreateSelect(e.b.CreateICmpSLT(x, y), x, y);
}

Span clip(Emitter& e, llvm::Value* start, int64_t k, int64_t n) {
  return {smax(e, start, e.c64(0)), smin(e, e.add(start, e.c64(k)), e.c64(n))};
}

Span window(Emitter& e, llvm::Value* o, int64_t s, int64_t k, int64_t pad, int64_t n, int64_t n_out) {
  llvm::Value* start = e.b.CreateSub(e.mul(o, e.c64(s)), e.c64(pad));
  if (axis_unclipped(s, k, pad, n, n_out)) return {start, e.add(start, e.c64(k))};
  return clip(e, start, k, n);
}

Span outputs_of(Emitter& e, llvm::Value* i, int64_t s, int64_t k, int64_t pad, int64_t n_out) {
  auto& b = e.b;
  llvm::Value* lo_num = e.add(i, e.c64(pad - k + 1));  // ceil(lo_num / s), or 0 when not positive
  llvm::Value* lo =
      b.CreateSelect(b.CreateICmpSGT(lo_num, e.c64(0)), b.CreateSDiv(e.add(lo_num, e.c64(s - 1)), e.c64(s)), e.c64(0));
  llvm::Value* hi = smin(e, e.add(b.CreateSDiv(e.add(i, e.c64(pad)), e.c64(s)), e.c64(1)), e.c64(n_out));
  return {lo, hi};
}

llvm::Value* x_index(Emitter& e, const WindowGeo& g, llvm::Value* bi, llvm::Value* ih, llvm::Value* iw) {
  return e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.H)), ih), e.c64(g.W)), iw), e.c64(g.C));
}

llvm::Value* y_index(Emitter& e, const WindowGeo& g, llvm::Value* bi, llvm::Value* oh, llvm::Value* ow, int64_t c) {
  return e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.OH)), oh), e.c64(g.OW)), ow), e.c64(c));
}

void chunks(Emitter& e, int64_t n, const std::function<void(llvm::Value*, int64_t)>& body) {
  const int64_t full = n / e.lanes, tail = n % e.lanes;
  if (full == 1)
    body(e.c64(0), e.lanes);
  else if (full > 1)
    e.loop(e.c64(0), e.c64(full), [&](llvm::Value* j) { body(e.mul(j, e.c64(e.lanes)), e.lanes); });
  if (tail) body(e.c64(full * e.lanes), tail);
}

void copy_run(Emitter& e, llvm::Value* dst, llvm::Value* d0, llvm::Value* src, llvm::Value* s0, int64_t n) {
  chunks(e, n, [&](llvm::Value* off, int64_t active) {
    e.vstore(e.vload(e.gep(src, e.add(s0, off)), active), e.gep(dst, e.add(d0, off)), active);
  });
}

}  // namespace gradc::win
