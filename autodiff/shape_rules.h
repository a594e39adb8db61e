// Shape/dtype rules of the op table (one infer_<Op> per entry) and shared geometry helpers.
#pragma once
#include "autodiff/graph.h"

namespace gradc {

#define GRADC_DECL_INFER(E, name, arity, kind, diff) \
  TypeInfo infer_##E(const Graph& g, const std::vector<int>& in, const Attrs& a);
GRADC_OPS(GRADC_DECL_INFER)
#undef GRADC_DECL_INFER

// An elementwise map's type: its input's (unary), or the broadcast of both (binary); f32 only.
TypeInfo map_type(const Graph& g, const std::vector<int>& in);

// Output shape of a broadcasting binary op, or throws naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Output extent and the padding before, along one spatial axis.
struct ConvDim {
  int64_t out, pad;
};
// Convolution and pooling geometry along one axis, as TensorFlow computes it: valid = floor((in - k) / s) + 1, no
// padding; same = ceil(in / s), padded by max((out - 1)·s + k - in, 0) with the smaller half before.
ConvDim pool_dim(int64_t in, int64_t k, int64_t s, Padding p);
// The NHWC output of max/avg_pool2d with the window, strides and padding of `a`; throws naming
// what is wrong (rank, window, strides, a window larger than a valid-padded input).
Shape pool_out_shape(const Shape& x, const Attrs& a);
// matmul_split_k's rows of k per chunk: ceil(K / splits) (the last chunk holds the rest).
inline int64_t split_k_chunk(int64_t K, int64_t splits) { return (K + splits - 1) / splits; }

// The product C[M, N] = op(A)[M, K]·op(B)[K, N] of a GEMM-kind node; for matmul_split_k
// ([splits, M, N]) the whole product's, its chunks summed.
struct GemmDims {
  int64_t M, N, K;
};
inline GemmDims gemm_dims(const Graph& g, const Node& n) {
  const Shape& a = g.node(n.in[0]).shape;
  const bool split = n.op == Op::MatMulSplitK;
  return {n.shape[split ? 1 : 0], n.shape[split ? 2 : 1], n.a.ta ? a[0] : a[1]};
}

// A windowed op's whole geometry (pooling, im2col, col2im) for NHWC input x: output extent, window,
// strides and the padding before, per spatial axis.
struct WindowGeo {
  int64_t B, H, W, C, OH, OW, KH, KW, SH, SW, ph, pw;
};
WindowGeo window_geo(const Shape& x, const Attrs& a);
// Windows that never overlap (strides >= window, Keras's pooling default): each input element is in
// at most one window, so a gradient can be scattered from output rows without a race.
inline bool windows_disjoint(const Attrs& a) { return a.strides[0] >= a.window[0] && a.strides[1] >= a.window[1]; }
// No window of an axis reaches outside the input: no padding before, and the last window (of
// n_out, stride s, extent k) ends inside n.
inline bool axis_unclipped(int64_t s, int64_t k, int64_t pad, int64_t n, int64_t n_out) {
  return pad == 0 && (n_out - 1) * s + k <= n;
}
inline bool windows_unclipped(const WindowGeo& g) {
  return axis_unclipped(g.SH, g.KH, g.ph, g.H, g.OH) && axis_unclipped(g.SW, g.KW, g.pw, g.W, g.OW);
}
// conv2d's geometry: the window is the filter's [KH, KW], strides a.strides ([1, 1] when empty),
// padding a.pad; F = the filter count.
struct ConvGeo : WindowGeo {
  int64_t F;
};
ConvGeo conv_geo(const Shape& x, const Shape& w, const Attrs& a);
// The NHWC output of conv2d(x, w) with a's strides and padding; throws naming what is wrong.
Shape conv_out_shape(const Shape& x, const Shape& w, const Attrs& a);

}  // namespace gradc
