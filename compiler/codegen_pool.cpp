// Max and average pooling over NHWC windows, forward and backward. Every kernel gathers, so rows
// split across threads: forward rows are (b, oh), backward rows (b, ih) of the input gradient, each
// summing over the windows that contain its element. Channels are the innermost, contiguous loop
// wherever the op allows it. Semantics as runtime/ref_ops.cpp: max-pool's gradient goes to each
// window's first maximum (row-major); average pooling counts only elements inside the input.
#include <cmath>
#include <stdexcept>

#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"

namespace gradc {

namespace {
using Geo = WindowGeo;

llvm::Value* smax(Emitter& e, llvm::Value* x, llvm::Value* y) {
  return e.b.CreateSelect(e.b.CreateICmpSGT(x, y), x, y);
}
llvm::Value* smin(Emitter& e, llvm::Value* x, llvm::Value* y) {
  return e.b.CreateSelect(e.b.CreateICmpSLT(x, y), x, y);
}

// The window of output o along one axis: input positions [first, last) clipped to [0, n).
struct Span {
  llvm::Value *first, *last;
};
Span window(Emitter& e, llvm::Value* o, int64_t s, int64_t k, int64_t pad, int64_t n) {
  llvm::Value* start = e.b.CreateSub(e.mul(o, e.c64(s)), e.c64(pad));
  return {smax(e, start, e.c64(0)), smin(e, e.add(start, e.c64(k)), e.c64(n))};
}

// The outputs whose window holds input position i along one axis: [first, last).
Span outputs_of(Emitter& e, llvm::Value* i, int64_t s, int64_t k, int64_t pad, int64_t n_out) {
  auto& b = e.b;
  llvm::Value* lo_num = e.add(i, e.c64(pad - k + 1));  // ceil(lo_num / s), or 0 when not positive
  llvm::Value* lo =
      b.CreateSelect(b.CreateICmpSGT(lo_num, e.c64(0)), b.CreateSDiv(e.add(lo_num, e.c64(s - 1)), e.c64(s)), e.c64(0));
  llvm::Value* hi = smin(e, e.add(b.CreateSDiv(e.add(i, e.c64(pad)), e.c64(s)), e.c64(1)), e.c64(n_out));
  return {lo, hi};
}

llvm::Value* x_index(Emitter& e, const Geo& g, llvm::Value* bi, llvm::Value* ih, llvm::Value* iw) {
  return e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.H)), ih), e.c64(g.W)), iw), e.c64(g.C));
}

// max/avg_pool2d: out[b, oh, ow, :] from the window's rows, channel-contiguous.
void emit_forward(Emitter& e, const Geo& g, bool is_max, llvm::Value* x, llvm::Value* out) {
  auto& b = e.b;
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·OH + oh
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.OH));
    const Span rows = window(e, b.CreateSRem(q, e.c64(g.OH)), g.SH, g.KH, g.ph, g.H);
    e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
      const Span cols = window(e, ow, g.SW, g.KW, g.pw, g.W);
      llvm::Value* y0 = e.mul(e.add(e.mul(q, e.c64(g.OW)), ow), e.c64(g.C));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) { e.store(e.cf(is_max ? -INFINITY : 0.f), out, e.add(y0, c)); });
      e.loop(rows.first, rows.last, [&](llvm::Value* ih) {
        e.loop(cols.first, cols.last, [&](llvm::Value* iw) {
          llvm::Value* x0 = x_index(e, g, bi, ih, iw);
          e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
            llvm::Value* yi = e.add(y0, c);
            llvm::Value* v = e.load(x, e.add(x0, c));
            e.store(is_max ? e.fmax(e.load(out, yi), v) : b.CreateFAdd(e.load(out, yi), v), out, yi);
          });
        });
      });
      if (is_max) return;
      llvm::Value* count = e.mul(b.CreateSub(rows.last, rows.first), b.CreateSub(cols.last, cols.first));
      llvm::Value* inv = b.CreateFDiv(e.cf(1.f), b.CreateSIToFP(count, e.f32));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
        llvm::Value* yi = e.add(y0, c);
        e.store(b.CreateFMul(e.load(out, yi), inv), out, yi);
      });
    });
  });
}

// Calls body(oh, ow, y0) for every output window holding input (ih, iw); y0 = that output's
// first channel.
void for_each_window_of(Emitter& e, const Geo& g, llvm::Value* bi, llvm::Value* ih, llvm::Value* iw,
                        const std::function<void(llvm::Value*, llvm::Value*, llvm::Value*)>& body) {
  const Span ohs = outputs_of(e, ih, g.SH, g.KH, g.ph, g.OH), ows = outputs_of(e, iw, g.SW, g.KW, g.pw, g.OW);
  e.loop(ohs.first, ohs.last, [&](llvm::Value* oh) {
    e.loop(ows.first, ows.last, [&](llvm::Value* ow) {
      body(oh, ow, e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.OH)), oh), e.c64(g.OW)), ow), e.c64(g.C)));
    });
  });
}

// avg_pool2d_grad: dx[b, ih, iw, :] = Σ over windows holding it of dy / the window's count.
void emit_avg_grad(Emitter& e, const Geo& g, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) { e.store(e.cf(0.f), dx, e.add(x0, c)); });
      for_each_window_of(e, g, bi, ih, iw, [&](llvm::Value* oh, llvm::Value* ow, llvm::Value* y0) {
        const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H), cols = window(e, ow, g.SW, g.KW, g.pw, g.W);
        llvm::Value* count = e.mul(b.CreateSub(rows.last, rows.first), b.CreateSub(cols.last, cols.first));
        llvm::Value* inv = b.CreateFDiv(e.cf(1.f), b.CreateSIToFP(count, e.f32));
        e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
          llvm::Value* xi = e.add(x0, c);
          e.store(b.CreateFAdd(e.load(dx, xi), b.CreateFMul(e.load(dy, e.add(y0, c)), inv)), dx, xi);
        });
      });
    });
  });
}

// The flat x index of channel c's first maximum (row-major) in the window rows × cols of example
// bi; `best` and `at` are the caller's stack slots (f32, i64), reused across windows.
llvm::Value* first_max(Emitter& e, const Geo& g, llvm::Value* x, llvm::Value* bi, const Span& rows, const Span& cols,
                       llvm::Value* c, llvm::Value* best, llvm::Value* at) {
  auto& b = e.b;
  b.CreateStore(e.cf(-INFINITY), best);
  b.CreateStore(e.c64(-1), at);
  e.loop(rows.first, rows.last, [&](llvm::Value* r) {
    e.loop(cols.first, cols.last, [&](llvm::Value* s) {
      llvm::Value* xi = e.add(x_index(e, g, bi, r, s), c);
      llvm::Value* v = e.load(x, xi);
      e.if_else(
          b.CreateOr(b.CreateICmpSLT(b.CreateLoad(e.i64, at), e.c64(0)), b.CreateFCmpOGT(v, b.CreateLoad(e.f32, best))),
          [&] {
            b.CreateStore(v, best);
            b.CreateStore(xi, at);
          });
    });
  });
  return b.CreateLoad(e.i64, at);
}

// max_pool2d_grad with disjoint windows, by output rows q = (b, oh): the band of input rows from
// this window row's start to the next one's (the last band to the end) is zeroed, then each
// window's dy is written at its first maximum. The bands tile the input, so threads never meet.
void emit_max_grad_disjoint(Emitter& e, const Geo& g, llvm::Value* x, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  llvm::Value* best = e.slot(e.f32, "best");
  llvm::Value* at = e.slot(e.i64, "at");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·OH + oh
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.OH));
    llvm::Value* oh = b.CreateSRem(q, e.c64(g.OH));
    llvm::Value* start = smax(e, b.CreateSub(e.mul(oh, e.c64(g.SH)), e.c64(g.ph)), e.c64(0));
    llvm::Value* next = b.CreateSub(e.mul(e.add(oh, e.c64(1)), e.c64(g.SH)), e.c64(g.ph));
    llvm::Value* band0 = b.CreateSelect(b.CreateICmpEQ(oh, e.c64(0)), e.c64(0), start);
    llvm::Value* band1 = b.CreateSelect(b.CreateICmpEQ(oh, e.c64(g.OH - 1)), e.c64(g.H), smin(e, next, e.c64(g.H)));
    e.loop(x_index(e, g, bi, band0, e.c64(0)), x_index(e, g, bi, band1, e.c64(0)),
           [&](llvm::Value* i) { e.store(e.cf(0.f), dx, i); });
    const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H);
    e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
      const Span cols = window(e, ow, g.SW, g.KW, g.pw, g.W);
      llvm::Value* y0 = e.mul(e.add(e.mul(q, e.c64(g.OW)), ow), e.c64(g.C));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
        e.store(e.load(dy, e.add(y0, c)), dx, first_max(e, g, x, bi, rows, cols, c, best, at));
      });
    });
  });
}

// max_pool2d_grad: dx[b, ih, iw, c] = Σ over windows holding it whose first maximum it is of dy.
void emit_max_grad(Emitter& e, const Geo& g, llvm::Value* x, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  llvm::Value* best = e.slot(e.f32, "best");
  llvm::Value* at = e.slot(e.i64, "at");
  llvm::Value* acc = e.slot(e.f32, "acc");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      e.loop(e.c64(0), e.c64(g.C), [&](llvm::Value* c) {
        b.CreateStore(e.cf(0.f), acc);
        for_each_window_of(e, g, bi, ih, iw, [&](llvm::Value* oh, llvm::Value* ow, llvm::Value* y0) {
          const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H), cols = window(e, ow, g.SW, g.KW, g.pw, g.W);
          llvm::Value* first = first_max(e, g, x, bi, rows, cols, c, best, at);
          e.if_else(b.CreateICmpEQ(first, e.add(x0, c)),
                    [&] { b.CreateStore(b.CreateFAdd(b.CreateLoad(e.f32, acc), e.load(dy, e.add(y0, c))), acc); });
        });
        e.store(b.CreateLoad(e.f32, acc), dx, e.add(x0, c));
      });
    });
  });
}
}  // namespace

void emit_pool(Emitter& e, const KernelInfo& k) {
  const Node& n = e.g.node(k.node);
  llvm::Value* out = e.base(k.node);
  switch (n.op) {
    case Op::MaxPool2d:
    case Op::AvgPool2d:
      return emit_forward(e, window_geo(e.g.node(n.in[0]).shape, n.a), n.op == Op::MaxPool2d, e.base(n.in[0]), out);
    case Op::MaxPool2dGrad:  // in: x, dy
      if (windows_disjoint(n.a))
        return emit_max_grad_disjoint(e, window_geo(e.g.node(n.in[0]).shape, n.a), e.base(n.in[0]), e.base(n.in[1]),
                                      out);
      return emit_max_grad(e, window_geo(e.g.node(n.in[0]).shape, n.a), e.base(n.in[0]), e.base(n.in[1]), out);
    case Op::AvgPool2dGrad:  // in: dy; the input's shape in a.shape
      return emit_avg_grad(e, window_geo(n.a.shape, n.a), e.base(n.in[0]), out);
    default:
      throw std::logic_error(std::string("gradc: emit_pool on op '") + op_name(n.op) + "'");
  }
}

}  // namespace gradc
