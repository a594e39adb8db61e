// Direct NHWC convolutions (any strides; the unfused pipeline's, and the reference for conv-gemm). Each kernel gathers
// (never scatters), so rows can be split across threads; the innermost loop runs along a contiguous channel axis for
// vectorisation.
#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"

namespace gradc {

namespace {
using Geo = ConvGeo;

// if (0 <= v < n) body()
void if_in_range(Emitter& e, llvm::Value* v, int64_t n, const std::function<void()>& body) {
  e.if_else(e.b.CreateICmpULT(v, e.c64(n)), body);  // unsigned: negative -> huge
}

// t / s when t >= 0 and s divides t, else n (out of range for if_in_range): the output position
// whose window puts its tap at t.
llvm::Value* on_grid(Emitter& e, llvm::Value* t, int64_t s, int64_t n) {
  if (s == 1) return t;  // negative t is out of range already
  auto& b = e.b;
  llvm::Value* ok = b.CreateAnd(b.CreateICmpSGE(t, e.c64(0)), b.CreateICmpEQ(b.CreateSRem(t, e.c64(s)), e.c64(0)));
  return b.CreateSelect(ok, b.CreateSDiv(t, e.c64(s)), e.c64(n));
}

// dst[0..n) += s · src[0..n) (stride 1 unless given)
void axpy(Emitter& e, llvm::Value* dst, llvm::Value* d0, llvm::Value* s, llvm::Value* src, llvm::Value* s0, int64_t n,
          int64_t src_stride = 1) {
  e.loop(e.c64(0), e.c64(n), [&](llvm::Value* f) {
    llvm::Value* di = e.add(d0, f);
    llvm::Value* si = e.add(s0, e.mul(f, e.c64(src_stride)));
    e.store(e.b.CreateFAdd(e.load(dst, di), e.b.CreateFMul(s, e.load(src, si))), dst, di);
  });
}
}  // namespace

void emit_conv(Emitter& e, const KernelInfo& k) {
  auto& b = e.b;
  const Node& n = e.g.node(k.node);
  if (n.op == Op::Im2Col || n.op == Op::Col2Im) return emit_im2col_op(e, k);
  if (n.op != Op::Conv2d && n.op != Op::Conv2dGradInput && n.op != Op::Conv2dGradFilter) return emit_pool(e, k);
  llvm::Value* in0 = e.base(n.in[0]);
  llvm::Value* in1 = e.base(n.in[1]);
  llvm::Value* out = e.base(k.node);
  auto zero_row = [&](llvm::Value* start, int64_t len) {
    e.loop(e.c64(0), e.c64(len), [&](llvm::Value* j) { e.store(e.cf(0.f), out, e.add(start, j)); });
  };
  if (n.op == Op::Conv2d) {  // rows q = (b, oh)
    const Geo g = conv_geo(e.g.node(n.in[0]).shape, e.g.node(n.in[1]).shape, n.a);
    e.loop(e.lo, e.hi, [&](llvm::Value* q) {
      llvm::Value* bi = b.CreateSDiv(q, e.c64(g.OH));
      llvm::Value* oh = b.CreateSRem(q, e.c64(g.OH));
      e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
        llvm::Value* y0 = e.mul(e.add(e.mul(q, e.c64(g.OW)), ow), e.c64(g.F));
        zero_row(y0, g.F);
        e.loop(e.c64(0), e.c64(g.KH), [&](llvm::Value* kh) {
          llvm::Value* ih = b.CreateSub(e.add(e.mul(oh, e.c64(g.SH)), kh), e.c64(g.ph));
          if_in_range(e, ih, g.H, [&] {
            e.loop(e.c64(0), e.c64(g.KW), [&](llvm::Value* kw) {
              llvm::Value* iw = b.CreateSub(e.add(e.mul(ow, e.c64(g.SW)), kw), e.c64(g.pw));
              if_in_range(e, iw, g.W, [&] {
                llvm::Value* x0 = e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.H)), ih), e.c64(g.W)), iw), e.c64(g.C));
                llvm::Value* w0 = e.mul(e.add(e.mul(kh, e.c64(g.KW)), kw), e.c64(g.C));
                e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
                  llvm::Value* xv = e.load(in0, e.add(x0, c));
                  axpy(e, out, y0, xv, in1, e.mul(e.add(w0, c), e.c64(g.F)), g.F);
                });
              });
            });
          });
        });
      });
    });
    return;
  }
  if (n.op == Op::Conv2dGradInput) {  // in0 = dy, in1 = w; rows q = (b, ih)
    const Geo g = conv_geo(n.a.shape, e.g.node(n.in[1]).shape, n.a);
    e.loop(e.lo, e.hi, [&](llvm::Value* q) {
      llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
      llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
      e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
        llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
        zero_row(x0, g.C);
        e.loop(e.c64(0), e.c64(g.KH), [&](llvm::Value* kh) {
          llvm::Value* th = b.CreateSub(e.add(ih, e.c64(g.ph)), kh);  // = oh·SH when on the output grid
          llvm::Value* oh = on_grid(e, th, g.SH, g.OH);
          if_in_range(e, oh, g.OH, [&] {
            e.loop(e.c64(0), e.c64(g.KW), [&](llvm::Value* kw) {
              llvm::Value* ow = on_grid(e, b.CreateSub(e.add(iw, e.c64(g.pw)), kw), g.SW, g.OW);
              if_in_range(e, ow, g.OW, [&] {
                llvm::Value* y0 = e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.OH)), oh), e.c64(g.OW)), ow), e.c64(g.F));
                llvm::Value* w0 = e.mul(e.mul(e.add(e.mul(kh, e.c64(g.KW)), kw), e.c64(g.C)), e.c64(g.F));
                e.loop(e.c64(0), e.c64(g.F), [&](llvm::Value* f) {
                  llvm::Value* dyv = e.load(in0, e.add(y0, f));
                  axpy(e, out, x0, dyv, in1, e.add(w0, f), g.C, g.F);
                });
              });
            });
          });
        });
      });
    });
    return;
  }
  // Conv2dGradFilter: in0 = x, in1 = dy; rows q = (kh, kw, c) of F filter values.
  const Geo g = conv_geo(e.g.node(n.in[0]).shape, n.a.shape, n.a);
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {
    llvm::Value* c = b.CreateSRem(q, e.c64(g.C));
    llvm::Value* khw = b.CreateSDiv(q, e.c64(g.C));
    llvm::Value* kh = b.CreateSDiv(khw, e.c64(g.KW));
    llvm::Value* kw = b.CreateSRem(khw, e.c64(g.KW));
    llvm::Value* w0 = e.mul(q, e.c64(g.F));
    zero_row(w0, g.F);
    e.loop(e.c64(0), e.c64(g.B * g.OH), [&](llvm::Value* boh) {
      llvm::Value* bi = b.CreateSDiv(boh, e.c64(g.OH));
      llvm::Value* oh = b.CreateSRem(boh, e.c64(g.OH));
      llvm::Value* ih = b.CreateSub(e.add(e.mul(oh, e.c64(g.SH)), kh), e.c64(g.ph));
      if_in_range(e, ih, g.H, [&] {
        e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
          llvm::Value* iw = b.CreateSub(e.add(e.mul(ow, e.c64(g.SW)), kw), e.c64(g.pw));
          if_in_range(e, iw, g.W, [&] {
            llvm::Value* xv = e.load(
                in0, e.add(e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.H)), ih), e.c64(g.W)), iw), e.c64(g.C)), c));
            llvm::Value* y0 = e.mul(e.add(e.mul(boh, e.c64(g.OW)), ow), e.c64(g.F));
            axpy(e, out, w0, xv, in1, y0, g.F);
          });
        });
      });
    });
  });
}

}  // namespace gradc
