// The conv-gemm pass: convolutions onto the GEMM microkernels. With cols = im2col(x) (one row per
// output position, one column per (kh, kw, c)) and the HWIO filter seen as W2 = [KH·KW·C, F]:
//   conv2d(x, w)                = reshape(cols · W2)
//   conv2d_grad_input(dy, w)    = col2im(dy2 · W2ᵀ)          dy2 = dy as [B·OH·OW, F]
//   conv2d_grad_filter(x, dy)   = reshape(colsᵀ · dy2)
// im2col of the same input and window is one node after CSE, so the forward pass and the filter
// gradient share it. The columns are materialised (B·OH·OW·KH·KW·C floats); packing them straight
// into the GEMM's panels is the next step.
#include "autodiff/shape_rules.h"
#include "compiler/passes.h"
#include "compiler/rewriter.h"

namespace gradc {

namespace {
Attrs window_attrs(const Shape& w, const Attrs& conv) {
  Attrs a;
  a.window = {w[0], w[1]};
  a.strides = conv.strides.rank == 0 ? Shape{1, 1} : conv.strides;
  a.pad = conv.pad;
  return a;
}

Attrs reshape_to(const Shape& s) {
  Attrs a;
  a.shape = s;
  return a;
}

// w [KH, KW, C, F] as [KH·KW·C, F].
int filter_matrix(Rewriter& r, const Node& n, int w_new, const Shape& w) {
  return r.emit(n, Op::Reshape, {w_new}, reshape_to({w[0] * w[1] * w[2], w[3]}));
}
// dy [B, OH, OW, F] as [B·OH·OW, F].
int rows_of(Rewriter& r, const Node& n, int t_new, const Shape& s) {
  return r.emit(n, Op::Reshape, {t_new}, reshape_to({s[0] * s[1] * s[2], s[3]}));
}

// im2col of x: a plain forward op whatever made it, so the forward convolution's and the filter
// gradient's are one node after CSE (whose key includes the role).
int columns(Rewriter& r, const Node& n, int x_new, const Shape& w) {
  return r.inner(r.emit(n, Op::Im2Col, {x_new}, window_attrs(w, n.a)));
}

int lower(Rewriter& r, const Node& n) {
  const Graph& g = r.src();
  Attrs mm;  // plain matmul
  switch (n.op) {
    case Op::Conv2d: {
      const Shape& w = g.node(n.in[1]).shape;
      const int cols = columns(r, n, r.mapped(n.in[0]), w);
      const int y2 = r.emit(n, Op::MatMul, {cols, filter_matrix(r, n, r.mapped(n.in[1]), w)}, mm);
      return r.emit(n, Op::Reshape, {y2}, reshape_to(n.shape));
    }
    case Op::Conv2dGradInput: {
      const Shape& w = g.node(n.in[1]).shape;
      Attrs tb = mm;
      tb.tb = true;
      const int dy2 = rows_of(r, n, r.mapped(n.in[0]), g.node(n.in[0]).shape);
      const int dcols = r.emit(n, Op::MatMul, {dy2, filter_matrix(r, n, r.mapped(n.in[1]), w)}, tb);
      Attrs back = window_attrs(w, n.a);
      back.shape = n.shape;
      return r.emit(n, Op::Col2Im, {dcols}, back);
    }
    case Op::Conv2dGradFilter: {
      const Shape& w = n.a.shape;
      const int cols = columns(r, n, r.mapped(n.in[0]), w);
      Attrs ta = mm;
      ta.ta = true;
      const int dy2 = rows_of(r, n, r.mapped(n.in[1]), g.node(n.in[1]).shape);
      const int dw2 = r.emit(n, Op::MatMul, {cols, dy2}, ta);
      return r.emit(n, Op::Reshape, {dw2}, reshape_to(w));
    }
    default:
      return r.copy(n);
  }
}
}  // namespace

PassResult conv_gemm(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) r.set_map(n.id, lower(r, n));
  return r.finish();
}

}  // namespace gradc
