// Max and average pooling over NHWC windows, forward and backward. Every kernel gathers, so rows
// split across threads: forward rows are (b, oh), backward rows (b, ih) of the input gradient, each
// summing over the windows that contain its element (max-pool's with disjoint windows scatters from
// output rows). Channels are the contiguous axis: every kernel works on vectors of them. Semantics as
// runtime/ref_ops.cpp: max-pool's gradient goes to each window's first maximum (row-major); average pooling counts only
// elements inside the input.
#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "compiler/codegen_window.h"

namespace gradc {

namespace {
using Geo = WindowGeo;
using win::Span;
using win::window;
using win::x_index;

llvm::FixedVectorType* ivec(Emitter& e) { return llvm::FixedVectorType::get(e.i32, static_cast<unsigned>(e.lanes)); }

// Reads `active` channels of x from flat index `flat` (channel `off` of a position): a load, or the
// plan's pooled producer (an elementwise chain over x, e.g. batch norm's relu(x·scale + shift))
// recomputed in registers.
using XLoad = std::function<llvm::Value*(llvm::Value* flat, llvm::Value* off, int64_t active)>;

// Scans the window rows × cols of example bi for `active` channels from `off`: body(xi, k) for each
// position in row-major order, xi = its flat x index of channel 0, k = its i32 ordinal.
void scan(Emitter& e, const Geo& g, llvm::Value* bi, const Span& rows, const Span& cols,
          const std::function<void(llvm::Value*, llvm::Value*)>& body) {
  auto& b = e.b;
  llvm::Value* width = b.CreateSub(cols.last, cols.first);
  e.loop(rows.first, rows.last, [&](llvm::Value* r) {
    e.loop(cols.first, cols.last, [&](llvm::Value* s) {
      llvm::Value* k = e.add(e.mul(b.CreateSub(r, rows.first), width), b.CreateSub(s, cols.first));
      body(x_index(e, g, bi, r, s), b.CreateTrunc(k, e.i32));
    });
  });
}

// Each channel's first maximum (row-major; a later element must be strictly greater, as the
// reference's) of one window, as vectors: the value into best_slot, its ordinal into at_slot.
void first_max_vec(Emitter& e, const Geo& g, const XLoad& x, llvm::Value* bi, const Span& rows, const Span& cols,
                   llvm::Value* off, int64_t active, llvm::Value* best_slot, llvm::Value* at_slot) {
  auto& b = e.b;
  b.CreateStore(x(e.add(x_index(e, g, bi, rows.first, cols.first), off), off, active), best_slot);
  b.CreateStore(llvm::Constant::getNullValue(ivec(e)), at_slot);
  scan(e, g, bi, rows, cols, [&](llvm::Value* xi, llvm::Value* k) {
    llvm::Value* v = x(e.add(xi, off), off, active);
    llvm::Value* best = b.CreateLoad(e.vec(), best_slot);
    llvm::Value* take = b.CreateFCmpOGT(v, best);
    b.CreateStore(b.CreateSelect(take, v, best), best_slot);
    b.CreateStore(
        b.CreateSelect(take, b.CreateVectorSplat(static_cast<unsigned>(e.lanes), k), b.CreateLoad(ivec(e), at_slot)),
        at_slot);
  });
}

// max/avg_pool2d: out[b, oh, ow, :] from the window's rows, a vector of channels at a time.
void emit_forward(Emitter& e, const Geo& g, bool is_max, const XLoad& x, llvm::Value* out) {
  auto& b = e.b;
  llvm::Value* acc = e.slot(e.vec(), "acc");
  llvm::Value* at = e.slot(ivec(e), "at");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·OH + oh
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.OH));
    const Span rows = window(e, b.CreateSRem(q, e.c64(g.OH)), g.SH, g.KH, g.ph, g.H, g.OH);
    e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
      const Span cols = window(e, ow, g.SW, g.KW, g.pw, g.W, g.OW);
      llvm::Value* y0 = e.mul(e.add(e.mul(q, e.c64(g.OW)), ow), e.c64(g.C));
      win::chunks(e, g.C, [&](llvm::Value* off, int64_t active) {
        if (is_max) {
          first_max_vec(e, g, x, bi, rows, cols, off, active, acc, at);
        } else {
          b.CreateStore(llvm::Constant::getNullValue(e.vec()), acc);
          scan(e, g, bi, rows, cols, [&](llvm::Value* xi, llvm::Value*) {
            b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), acc), x(e.add(xi, off), off, active)), acc);
          });
          llvm::Value* count = e.mul(b.CreateSub(rows.last, rows.first), b.CreateSub(cols.last, cols.first));
          llvm::Value* inv = b.CreateFDiv(e.cf(1.f), b.CreateSIToFP(count, e.f32));
          b.CreateStore(b.CreateFMul(b.CreateLoad(e.vec(), acc), e.splat(inv)), acc);
        }
        e.vstore(b.CreateLoad(e.vec(), acc), e.gep(out, e.add(y0, off)), active);
      });
    });
  });
}

// Calls body(oh, ow, y0) for every output window holding input (ih, iw); y0 = that output's
// first channel.
void for_each_window_of(Emitter& e, const Geo& g, llvm::Value* bi, llvm::Value* ih, llvm::Value* iw,
                        const std::function<void(llvm::Value*, llvm::Value*, llvm::Value*)>& body) {
  const Span ohs = win::outputs_of(e, ih, g.SH, g.KH, g.ph, g.OH), ows = win::outputs_of(e, iw, g.SW, g.KW, g.pw, g.OW);
  e.loop(ohs.first, ohs.last, [&](llvm::Value* oh) {
    e.loop(ows.first, ows.last, [&](llvm::Value* ow) {
      body(oh, ow, e.mul(e.add(e.mul(e.add(e.mul(bi, e.c64(g.OH)), oh), e.c64(g.OW)), ow), e.c64(g.C)));
    });
  });
}

// avg_pool2d_grad: dx[b, ih, iw, :] = Σ over windows holding it of dy / the window's count.
void emit_avg_grad(Emitter& e, const Geo& g, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  llvm::Value* acc = e.slot(e.vec(), "acc");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      win::chunks(e, g.C, [&](llvm::Value* off, int64_t active) {
        b.CreateStore(llvm::Constant::getNullValue(e.vec()), acc);
        for_each_window_of(e, g, bi, ih, iw, [&](llvm::Value* oh, llvm::Value* ow, llvm::Value* y0) {
          const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H, g.OH),
                     cols = window(e, ow, g.SW, g.KW, g.pw, g.W, g.OW);
          llvm::Value* count = e.mul(b.CreateSub(rows.last, rows.first), b.CreateSub(cols.last, cols.first));
          llvm::Value* inv = b.CreateFDiv(e.cf(1.f), b.CreateSIToFP(count, e.f32));
          llvm::Value* dyv = e.vload(e.gep(dy, e.add(y0, off)), active);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), acc), b.CreateFMul(dyv, e.splat(inv))), acc);
        });
        e.vstore(b.CreateLoad(e.vec(), acc), e.gep(dx, e.add(x0, off)), active);
      });
    });
  });
}

// max_pool2d_grad with disjoint windows, by output rows q = (b, oh): the band of input rows from
// this window row's start to the next one's (the last band to the end) is zeroed (unless the
// windows tile it), then each
// window's dy is written at its first maximum, a vector of channels at a time. The bands tile the
// input, so threads never meet.
void emit_max_grad_disjoint(Emitter& e, const Geo& g, const XLoad& x, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  llvm::Value* best = e.slot(e.vec(), "best");
  llvm::Value* at = e.slot(ivec(e), "at");
  // Windows that tile the input exactly write every element of it: nothing left to zero.
  const bool tiled = g.ph == 0 && g.pw == 0 && g.KH == g.SH && g.KW == g.SW && g.H == g.OH * g.SH && g.W == g.OW * g.SW;
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·OH + oh
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.OH));
    llvm::Value* oh = b.CreateSRem(q, e.c64(g.OH));
    llvm::Value* start = win::smax(e, b.CreateSub(e.mul(oh, e.c64(g.SH)), e.c64(g.ph)), e.c64(0));
    llvm::Value* next = b.CreateSub(e.mul(e.add(oh, e.c64(1)), e.c64(g.SH)), e.c64(g.ph));
    llvm::Value* band0 = b.CreateSelect(b.CreateICmpEQ(oh, e.c64(0)), e.c64(0), start);
    llvm::Value* band1 =
        b.CreateSelect(b.CreateICmpEQ(oh, e.c64(g.OH - 1)), e.c64(g.H), win::smin(e, next, e.c64(g.H)));
    llvm::Value* first = x_index(e, g, bi, band0, e.c64(0));
    llvm::Value* bytes = e.mul(b.CreateSub(x_index(e, g, bi, band1, e.c64(0)), first), e.c64(4));
    if (!tiled) b.CreateMemSet(e.gep(dx, first), b.getInt8(0), bytes, llvm::MaybeAlign(4));
    const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H, g.OH);
    e.loop(e.c64(0), e.c64(g.OW), [&](llvm::Value* ow) {
      const Span cols = window(e, ow, g.SW, g.KW, g.pw, g.W, g.OW);
      llvm::Value* y0 = e.mul(e.add(e.mul(q, e.c64(g.OW)), ow), e.c64(g.C));
      win::chunks(e, g.C, [&](llvm::Value* off, int64_t active) {
        first_max_vec(e, g, x, bi, rows, cols, off, active, best, at);
        llvm::Value* dyv = e.vload(e.gep(dy, e.add(y0, off)), active);
        llvm::Value* zero = llvm::Constant::getNullValue(e.vec());
        scan(e, g, bi, rows, cols, [&](llvm::Value* xi, llvm::Value* k) {
          llvm::Value* mine =
              b.CreateICmpEQ(b.CreateLoad(ivec(e), at), b.CreateVectorSplat(static_cast<unsigned>(e.lanes), k));
          e.vstore(b.CreateSelect(mine, dyv, zero), e.gep(dx, e.add(xi, off)), active);
        });
      });
    });
  });
}

// max_pool2d_grad with overlapping windows: dx[b, ih, iw, :] = Σ over the windows holding it whose
// first maximum it is of dy, a vector of channels at a time (gathering, so rows (b, ih) split).
void emit_max_grad(Emitter& e, const Geo& g, const XLoad& x, llvm::Value* dy, llvm::Value* dx) {
  auto& b = e.b;
  llvm::Value* best = e.slot(e.vec(), "best");
  llvm::Value* at = e.slot(ivec(e), "at");
  llvm::Value* acc = e.slot(e.vec(), "acc");
  e.loop(e.lo, e.hi, [&](llvm::Value* q) {  // q = b·H + ih
    llvm::Value* bi = b.CreateSDiv(q, e.c64(g.H));
    llvm::Value* ih = b.CreateSRem(q, e.c64(g.H));
    e.loop(e.c64(0), e.c64(g.W), [&](llvm::Value* iw) {
      llvm::Value* x0 = e.mul(e.add(e.mul(q, e.c64(g.W)), iw), e.c64(g.C));
      win::chunks(e, g.C, [&](llvm::Value* off, int64_t active) {
        b.CreateStore(llvm::Constant::getNullValue(e.vec()), acc);
        for_each_window_of(e, g, bi, ih, iw, [&](llvm::Value* oh, llvm::Value* ow, llvm::Value* y0) {
          const Span rows = window(e, oh, g.SH, g.KH, g.ph, g.H, g.OH),
                     cols = window(e, ow, g.SW, g.KW, g.pw, g.W, g.OW);
          first_max_vec(e, g, x, bi, rows, cols, off, active, best, at);
          llvm::Value* self = e.add(e.mul(b.CreateSub(ih, rows.first), b.CreateSub(cols.last, cols.first)),
                                    b.CreateSub(iw, cols.first));  // (ih, iw)'s ordinal in this window
          llvm::Value* mine =
              b.CreateICmpEQ(b.CreateLoad(ivec(e), at),
                             b.CreateVectorSplat(static_cast<unsigned>(e.lanes), b.CreateTrunc(self, e.i32)));
          llvm::Value* dyv = e.vload(e.gep(dy, e.add(y0, off)), active);
          llvm::Value* acc_v = b.CreateLoad(e.vec(), acc);
          b.CreateStore(b.CreateSelect(mine, b.CreateFAdd(acc_v, dyv), acc_v), acc);
        });
        e.vstore(b.CreateLoad(e.vec(), acc), e.gep(dx, e.add(x0, off)), active);
      });
    });
  });
}
}  // namespace

void emit_pool(Emitter& e, const KernelInfo& k) {
  const Node& n = e.g.node(k.node);
  llvm::Value* out = e.base(k.node);
  const int xid = n.in[0];
  const bool recomputed = std::find(k.fused.begin(), k.fused.end(), xid) != k.fused.end();
  const int64_t total = e.g.node(xid).shape.numel(), C = e.g.node(xid).shape[3];
  llvm::Value* xbase = recomputed ? nullptr : e.base(xid);
  const XLoad x = [&](llvm::Value* flat, llvm::Value* off, int64_t active) {
    if (recomputed) return elementwise_vector(e, k.fused, xid, total, C, flat, off, active);
    return e.vload(e.gep(xbase, flat), active);
  };
  switch (n.op) {
    case Op::MaxPool2d:
    case Op::AvgPool2d:
      return emit_forward(e, window_geo(e.g.node(xid).shape, n.a), n.op == Op::MaxPool2d, x, out);
    case Op::MaxPool2dGrad:  // in: x, dy
      if (windows_disjoint(n.a))
        return emit_max_grad_disjoint(e, window_geo(e.g.node(xid).shape, n.a), x, e.base(n.in[1]), out);
      return emit_max_grad(e, window_geo(e.g.node(xid).shape, n.a), x, e.base(n.in[1]), out);
    case Op::AvgPool2dGrad:  // in: dy; the input's shape in a.shape
      return emit_avg_grad(e, window_geo(n.a.shape, n.a), e.base(n.in[0]), out);
    default:
      throw std::logic_error(std::string("gradc: emit_pool on op '") + op_name(n.op) + "'");
  }
}

}  // namespace gradc
