// im2col and col2im, the layout halves of a convolution run on the GEMM (the conv-gemm pass).
// im2col rows are output positions (b, oh, ow), split across threads; col2im gathers into input
// rows (b, ih). Both move vectors of channels.
#include "compiler/codegen_window.h"

namespace gradc {

namespace {
// The general row: zeros, then the in-range part of each window row, element by element.
void im2col_clipped(Emitter& e, const WindowGeo& g, llvm::Value* x, llvm::Value* cols, llvm::Value* bi,
                    llvm::Value* ih0, llvm::Value* iw0, llvm::Value* c0) {
  auto& b = e.b;
  const int64_t K = g.KH * g.KW * g.C;
  b.CreateMemSet(e.gep(cols, c0), b.getInt8(0), e.c64(K * 4), llvm::MaybeAlign(4));
  const win::Span rows = win::clip(e, ih0, g.KH, g.H), taps = win::clip(e, iw0, g.KW, g.W);
  e.loop(rows.first, rows.last, [&](llvm::Value* ih) {
    e.loop(taps.first, taps.last, [&](llvm::Value* iw) {
      llvm::Value* k = e.add(e.mul(b.CreateSub(ih, ih0), e.c64(g.KW)), b.CreateSub(iw, iw0));
      win::copy_run(e, cols, e.add(c0, e.mul(k, e.c64(g.C))), x, win::x_index(e, g, bi, ih, iw), g.C);
    });
  });
}

// Rows (b, oh, ow): a window inside the input is KH runs of KW·C contiguous floats (whatever the
// stride), copied as vectors; windows that reach into the padding take the general path.
void emit_im2col(Emitter& e, const WindowGeo& g, llvm::Value* x, llvm::Value* cols) {
  auto& b = e.b;
  const int64_t K = g.KH * g.KW * g.C;
  e.loop(e.lo, e.hi, [&](llvm::Value* row) {  // row = (b·OH + oh)·OW + ow
    llvm::Value* ow = b.CreateSRem(row, e.c64(g.OW));
    llvm::Value* boh = b.CreateSDiv(row, e.c64(g.OW));
    llvm::Value* oh = b.CreateSRem(boh, e.c64(g.OH));
    llvm::Value* bi = b.CreateSDiv(boh, e.c64(g.OH));
    llvm::Value* c0 = e.mul(row, e.c64(K));
    llvm::Value* ih0 = b.CreateSub(e.mul(oh, e.c64(g.SH)), e.c64(g.ph));
    llvm::Value* iw0 = b.CreateSub(e.mul(ow, e.c64(g.SW)), e.c64(g.pw));
    llvm::Value* inside =
        b.CreateAnd(b.CreateAnd(b.CreateICmpSGE(ih0, e.c64(0)), b.CreateICmpSLE(ih0, e.c64(g.H - g.KH))),
                    b.CreateAnd(b.CreateICmpSGE(iw0, e.c64(0)), b.CreateICmpSLE(iw0, e.c64(g.W - g.KW))));
    e.if_else(
        inside,
        [&] {
          e.loop(e.c64(0), e.c64(g.KH), [&](llvm::Value* kh) {
            win::copy_run(e, cols, e.add(c0, e.mul(kh, e.c64(g.KW * g.C))), x,
                          win::x_index(e, g, bi, e.add(ih0, kh), iw0), g.KW * g.C);
          });
        },
        [&] { im2col_clipped(e, g, x, cols, bi, ih0, iw0, c0); });
  });
}

// Rows (b, ih): each input element sums, a vector of channels at a time, its entry in the column
// row of every output window that holds it.
void emit_col2im(Emitter& e, const WindowGeo& g, llvm::Value* cols, llvm::Value* dx) {
  auto& b = e.b;
  const int64_t K = g.KH * g.KW * g.C;
  llvm::Value* acc = e.slot(e.vec(), "acc");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    const win::Span ohs = win::outputs_of(e, ih, g.SH, g.KH, g.ph, g.OH);
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      const win::Span ows = win::outputs_of(e, iw, g.SW, g.KW, g.pw, g.OW);
      win::chunks(e, g.C, [&](llvm::Value* off, int64_t active) {
        b.CreateStore(llvm::Constant::getNullValue(e.vec()), acc);
        // Windows in the order of their taps (kh, kw ascending), as the direct kernels add them.
        e.loop(ohs.first, ohs.last, [&](llvm::Value* i) {
          llvm::Value* oh = b.CreateSub(b.CreateSub(ohs.last, e.c64(1)), b.CreateSub(i, ohs.first));
          llvm::Value* kh = b.CreateSub(e.add(ih, e.c64(g.ph)), e.mul(oh, e.c64(g.SH)));
          e.loop(ows.first, ows.last, [&](llvm::Value* j) {
            llvm::Value* ow = b.CreateSub(b.CreateSub(ows.last, e.c64(1)), b.CreateSub(j, ows.first));
            llvm::Value* kw = b.CreateSub(e.add(iw, e.c64(g.pw)), e.mul(ow, e.c64(g.SW)));
            llvm::Value* src = e.add(e.mul(win::y_index(e, g, bi, oh, ow, 1), e.c64(K)),
                                     e.mul(e.add(e.mul(kh, e.c64(g.KW)), kw), e.c64(g.C)));
            llvm::Value* v = e.vload(e.gep(cols, e.add(src, off)), active);
            b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), acc), v), acc);
          });
        });
        e.vstore(b.CreateLoad(e.vec(), acc), e.gep(dx, e.add(x0, off)), active);
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
