// im2col and col2im, the layout halves of a convolution run on the GEMM (the conv-gemm pass).
// im2col rows are output positions (b, oh, ow), split across threads, each writing its KH·KW runs
// of C contiguous values (zeros for padding); col2im gathers into input rows (b, ih), summing the
// column entries of every window that covers each element, channel-contiguous.
#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"

namespace gradc {

namespace {
// for (v = lo; v < lo + n; ++v) if (0 <= v < limit): loop over the in-range part only.
void loop_clipped(Emitter& e, llvm::Value* lo, int64_t n, int64_t limit,
                  const std::function<void(llvm::Value*)>& body) {
  auto& b = e.b;
  llvm::Value* first = b.CreateSelect(b.CreateICmpSGT(lo, e.c64(0)), lo, e.c64(0));
  llvm::Value* end = e.add(lo, e.c64(n));
  llvm::Value* last = b.CreateSelect(b.CreateICmpSLT(end, e.c64(limit)), end, e.c64(limit));
  e.loop(first, last, body);
}

void emit_im2col(Emitter& e, const WindowGeo& g, llvm::Value* x, llvm::Value* cols) {
  auto& b = e.b;
  const int64_t K = g.KH * g.KW * g.C;
  e.loop(e.lo, e.hi, [&](llvm::Value* row) {  // row = (b·OH + oh)·OW + ow
    llvm::Value* ow = b.CreateSRem(row, e.c64(g.OW));
    llvm::Value* boh = b.CreateSDiv(row, e.c64(g.OW));
    llvm::Value* oh = b.CreateSRem(boh, e.c64(g.OH));
    llvm::Value* bi = b.CreateSDiv(boh, e.c64(g.OH));
    llvm::Value* c0 = e.mul(row, e.c64(K));
    e.loop(e.c64(0), e.c64(K), [&](llvm::Value* j) { e.store(e.cf(0.f), cols, e.add(c0, j)); });
    llvm::Value* ih0 = b.CreateSub(e.mul(oh, e.c64(g.SH)), e.c64(g.ph));
    llvm::Value* iw0 = b.CreateSub(e.mul(ow, e.c64(g.SW)), e.c64(g.pw));
    loop_clipped(e, ih0, g.KH, g.H, [&](llvm::Value* ih) {
      loop_clipped(e, iw0, g.KW, g.W, [&](llvm::Value* iw) {
        llvm::Value* k = e.add(e.mul(b.CreateSub(ih, ih0), e.c64(g.KW)), b.CreateSub(iw, iw0));
        llvm::Value* dst = e.add(c0, e.mul(k, e.c64(g.C)));
        llvm::Value* src = e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.H)), ih), e.c64(g.W)), iw), e.c64(g.C));
        e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) { e.store(e.load(x, e.add(src, c)), cols, e.add(dst, c)); });
      });
    });
  });
}

void emit_col2im(Emitter& e, const WindowGeo& g, llvm::Value* cols, llvm::Value* dx) {
  auto& b = e.b;
  const int64_t K = g.KH * g.KW * g.C;
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) { e.store(e.cf(0.f), dx, e.add(x0, c)); });
      e.loop(e.c64(0), e.c64(g.KH), [&](llvm::Value* kh) {  // the windows holding (ih, iw): oh·SH + kh - ph = ih
        llvm::Value* th = b.CreateSub(e.add(ih, e.c64(g.ph)), kh);
        llvm::Value* oh = b.CreateSDiv(th, e.c64(g.SH));
        llvm::Value* on_grid_h =
            b.CreateAnd(b.CreateICmpSGE(th, e.c64(0)), b.CreateICmpEQ(b.CreateSRem(th, e.c64(g.SH)), e.c64(0)));
        e.if_else(b.CreateAnd(on_grid_h, b.CreateICmpSLT(oh, e.c64(g.OH))), [&] {
          e.loop(e.c64(0), e.c64(g.KW), [&](llvm::Value* kw) {
            llvm::Value* tw = b.CreateSub(e.add(iw, e.c64(g.pw)), kw);
            llvm::Value* ow = b.CreateSDiv(tw, e.c64(g.SW));
            llvm::Value* on_grid_w =
                b.CreateAnd(b.CreateICmpSGE(tw, e.c64(0)), b.CreateICmpEQ(b.CreateSRem(tw, e.c64(g.SW)), e.c64(0)));
            e.if_else(b.CreateAnd(on_grid_w, b.CreateICmpSLT(ow, e.c64(g.OW))), [&] {
              llvm::Value* row = e.add(e.mul(e.add(e.mul(bi, e.c64(g.OH)), oh), e.c64(g.OW)), ow);
              llvm::Value* src = e.add(e.mul(row, e.c64(K)), e.mul(e.add(e.mul(kh, e.c64(g.KW)), kw), e.c64(g.C)));
              e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
                llvm::Value* xi = e.add(x0, c);
                e.store(b.CreateFAdd(e.load(dx, xi), e.load(cols, e.add(src, c))), dx, xi);
              });
            });
          });
        });
      });
    });
  });
}
}  // namespace

void emit_im2col_op(Emitter& e, const KernelInfo& k) {
  const Node& n = e.g.node(k.node);
  if (n.op == Op::Im2Col)
    emit_im2col(e, window_geo(e.g.node(n.in[0]).shape, n.a), e.base(n.in[0]), e.base(k.node));
  else
    emit_col2im(e, window_geo(n.a.shape, n.a), e.base(n.in[0]), e.base(k.node));
}

}  // namespace gradc
