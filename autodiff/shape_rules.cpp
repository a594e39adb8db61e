#include "autodiff/shape_rules.h"

#include <algorithm>
#include <cmath>

namespace gradc {

namespace {
[[noreturn]] void fail(const std::string& msg) { throw GraphError(msg); }

const Node& arg(const Graph& g, const std::vector<int>& in, size_t k) { return g.node(in[k]); }

void need_f32(const Node& n, const char* what) {
  if (n.dtype != DType::F32) fail(std::string(what) + " must be f32, got " + dtype_name(n.dtype) + " " + n.shape.str());
}

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.rank > big.rank) return false;
  for (int i = 0; i < small.rank; ++i)
    if (small[small.rank - 1 - i] != big[big.rank - 1 - i]) return false;
  return true;
}

TypeInfo f32(Shape s) { return {s, DType::F32}; }

TypeInfo unary_f32(const Graph& g, const std::vector<int>& in) {
  need_f32(arg(g, in, 0), "input");
  return f32(arg(g, in, 0).shape);
}

TypeInfo binary_f32(const Graph& g, const std::vector<int>& in) {
  need_f32(arg(g, in, 0), "lhs");
  need_f32(arg(g, in, 1), "rhs");
  return f32(broadcast_shapes(arg(g, in, 0).shape, arg(g, in, 1).shape));
}

TypeInfo reduce(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& x = arg(g, in, 0);
  need_f32(x, "input");
  if (a.axis == -1) return f32(Shape::scalar());
  if (a.axis < 0 || a.axis >= x.shape.rank)
    fail("axis " + std::to_string(a.axis) + " out of range for shape " + x.shape.str());
  return f32(x.shape.without_axis(a.axis));
}

TypeInfo row_op(const Graph& g, const std::vector<int>& in) {
  const Node& x = arg(g, in, 0);
  need_f32(x, "input");
  if (x.shape.rank < 1) fail("needs rank >= 1, got scalar");
  return f32(x.shape);
}

void check_conv_operands(const Shape& x, const Shape& w) {
  if (x.rank != 4) fail("input must be NHWC rank 4, got " + x.str());
  if (w.rank != 4) fail("filter must be HWIO rank 4, got " + w.str());
  if (x[3] != w[2])
    fail("input channels differ: input " + x.str() + " has " + std::to_string(x[3]) + ", filter " + w.str() +
         " expects " + std::to_string(w[2]));
}
}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  if (a == b) return a;
  if (b.rank == 0 || is_suffix(b, a)) return a;
  if (a.rank == 0 || is_suffix(a, b)) return b;
  fail("shapes do not broadcast: " + a.str() + " vs " + b.str() + " (one must equal a trailing part of the other)");
}

ConvDim pool_dim(int64_t in, int64_t k, int64_t s, Padding p) {
  if (p == Padding::Valid) return {in < k ? 0 : (in - k) / s + 1, 0};
  const int64_t out = (in + s - 1) / s;
  return {out, std::max<int64_t>((out - 1) * s + k - in, 0) / 2};
}

Shape pool_out_shape(const Shape& x, const Attrs& a) {
  if (x.rank != 4) fail("input must be NHWC rank 4, got " + x.str());
  if (a.window.rank != 2 || a.window[0] < 1 || a.window[1] < 1)
    fail("pool window must be [height, width] of at least 1, got " + a.window.str());
  if (a.strides.rank != 2 || a.strides[0] < 1 || a.strides[1] < 1)
    fail("pool strides must be [height, width] of at least 1, got " + a.strides.str());
  const ConvDim h = pool_dim(x[1], a.window[0], a.strides[0], a.pad);
  const ConvDim w = pool_dim(x[2], a.window[1], a.strides[1], a.pad);
  if (h.out <= 0 || w.out <= 0)
    fail("pool window " + a.window.str() + " larger than input " + x.str() + " with valid padding");
  return {x[0], h.out, w.out, x[3]};
}

WindowGeo window_geo(const Shape& x, const Attrs& a) {
  const ConvDim h = pool_dim(x[1], a.window[0], a.strides[0], a.pad),
                w = pool_dim(x[2], a.window[1], a.strides[1], a.pad);
  return {x[0], x[1], x[2], x[3], h.out, w.out, a.window[0], a.window[1], a.strides[0], a.strides[1], h.pad, w.pad};
}

namespace {
Attrs conv_window(const Shape& w, const Attrs& a) {
  Attrs win = a;
  win.window = {w[0], w[1]};
  if (win.strides.rank == 0) win.strides = {1, 1};
  return win;
}
}  // namespace

ConvGeo conv_geo(const Shape& x, const Shape& w, const Attrs& a) { return {window_geo(x, conv_window(w, a)), w[3]}; }

Shape conv_out_shape(const Shape& x, const Shape& w, const Attrs& a) {
  check_conv_operands(x, w);
  const Attrs win = conv_window(w, a);
  if (win.strides.rank != 2 || win.strides[0] < 1 || win.strides[1] < 1)
    fail("conv strides must be [height, width] of at least 1, got " + win.strides.str());
  const ConvDim h = pool_dim(x[1], w[0], win.strides[0], a.pad), wd = pool_dim(x[2], w[1], win.strides[1], a.pad);
  if (h.out <= 0 || wd.out <= 0) fail("filter " + w.str() + " larger than input " + x.str() + " with valid padding");
  return {x[0], h.out, wd.out, w[3]};
}

TypeInfo infer_Input(const Graph&, const std::vector<int>&, const Attrs& a) { return f32(a.shape); }
TypeInfo infer_Parameter(const Graph&, const std::vector<int>&, const Attrs& a) {
  if (a.shape.numel() <= 0) fail("parameter shape " + a.shape.str() + " is empty");
  return f32(a.shape);
}
TypeInfo infer_Constant(const Graph&, const std::vector<int>&, const Attrs& a) {
  if (!a.data.empty() && static_cast<int64_t>(a.data.size()) != a.shape.numel())
    fail("constant data has " + std::to_string(a.data.size()) + " values for shape " + a.shape.str());
  return f32(a.shape);
}

TypeInfo infer_MatMul(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& x = arg(g, in, 0);
  const Node& y = arg(g, in, 1);
  need_f32(x, "a");
  need_f32(y, "b");
  if (x.shape.rank != 2 || y.shape.rank != 2)
    fail("needs 2-D operands, got a " + x.shape.str() + " and b " + y.shape.str());
  int64_t m = a.ta ? x.shape[1] : x.shape[0], k1 = a.ta ? x.shape[0] : x.shape[1];
  int64_t k2 = a.tb ? y.shape[1] : y.shape[0], n = a.tb ? y.shape[0] : y.shape[1];
  if (k1 != k2)
    fail("inner dimensions differ: a " + x.shape.str() + (a.ta ? "ᵀ" : "") + " · b " + y.shape.str() +
         (a.tb ? "ᵀ" : "") + " (" + std::to_string(k1) + " vs " + std::to_string(k2) + ")");
  return f32({m, n});
}

// matmul_split_k(a, b): a [K, M], b [K, N] (ta, not tb) -> [splits, M, N], chunk s the product of
// rows [s·c, min((s+1)·c, K)) with c = ceil(K / splits); summed over axis 0 it is aᵀ·b.
TypeInfo infer_MatMulSplitK(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  if (a.tb) fail("needs tb = 0 (op(A)·B with B's rows along k)");
  const TypeInfo t = infer_MatMul(g, in, a);
  const int64_t K = arg(g, in, 0).shape[a.ta ? 0 : 1];
  if (a.splits < 2 || (a.splits - 1) * split_k_chunk(K, a.splits) >= K)
    fail("splits = " + std::to_string(a.splits) + " must cut k = " + std::to_string(K) +
         " into that many non-empty chunks");
  return f32({a.splits, t.shape[0], t.shape[1]});
}

TypeInfo infer_Dense(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  TypeInfo t = infer_MatMul(g, {in[0], in[1]}, a);
  const Node& b = arg(g, in, 2);
  need_f32(b, "bias");
  if (b.shape != Shape{t.shape[1]}) fail("bias " + b.shape.str() + " does not match the output " + t.shape.str());
  return t;
}

// matmul_update(a, b, p, lr) = p − lr·(op(a)·b): p the result's shape, lr a scalar.
TypeInfo infer_MatMulUpdate(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  if (a.tb) fail("needs tb = 0 (op(A)·B with B's rows along k)");
  TypeInfo t = infer_MatMul(g, {in[0], in[1]}, a);
  const Node& p = arg(g, in, 2);
  const Node& lr = arg(g, in, 3);
  need_f32(p, "parameter");
  need_f32(lr, "learning rate");
  if (p.shape != t.shape) fail("parameter " + p.shape.str() + " does not match the product " + t.shape.str());
  if (lr.shape.numel() != 1) fail("learning rate must be a scalar, got " + lr.shape.str());
  return t;
}

TypeInfo infer_MatMulMask(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  TypeInfo t = infer_MatMul(g, {in[0], in[1]}, a);
  if (a.mask != 1 && a.mask != 2) fail("mask must name operand 1 (a) or 2 (b)");
  const Node& m = arg(g, in, 2);
  const Node& op = arg(g, in, static_cast<size_t>(a.mask - 1));
  need_f32(m, "mask source");
  if (m.shape != op.shape) fail("mask source " + m.shape.str() + " differs from the masked operand " + op.shape.str());
  return t;
}

TypeInfo infer_SoftmaxXentGrad(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  infer_SoftmaxXent(g, {in[0], in[1]}, a);
  const Node& s = arg(g, in, 2);
  need_f32(s, "scale");
  if (s.shape.numel() != 1) fail("scale must be a scalar, got " + s.shape.str());
  return f32(arg(g, in, 0).shape);
}

TypeInfo map_type(const Graph& g, const std::vector<int>& in) {
  return in.size() == 1 ? unary_f32(g, in) : binary_f32(g, in);
}

TypeInfo infer_ReluGrad(const Graph& g, const std::vector<int>& in, const Attrs&) {
  const Node& x = arg(g, in, 0);
  const Node& dy = arg(g, in, 1);
  need_f32(x, "x");
  need_f32(dy, "dy");
  if (x.shape != dy.shape) fail("x " + x.shape.str() + " and dy " + dy.shape.str() + " differ");
  return f32(x.shape);
}

TypeInfo infer_Dropout(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& x = arg(g, in, 0);
  const Node& key = arg(g, in, 1);
  need_f32(x, "x");
  if (key.dtype != DType::I32 || key.shape.numel() != 1)
    fail("key must be an i32 scalar, got " + std::string(dtype_name(key.dtype)) + " " + key.shape.str());
  if (!(a.value >= 0.f && a.value < 1.f)) fail("rate " + std::to_string(a.value) + " not in [0, 1)");
  return f32(x.shape);
}

TypeInfo infer_AllReduce(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  if (!(a.value > 0.f && std::isfinite(a.value))) fail("scale " + std::to_string(a.value) + " must be positive");
  return unary_f32(g, in);
}

TypeInfo infer_Sum(const Graph& g, const std::vector<int>& in, const Attrs& a) { return reduce(g, in, a); }
TypeInfo infer_Mean(const Graph& g, const std::vector<int>& in, const Attrs& a) { return reduce(g, in, a); }

TypeInfo infer_Broadcast(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& x = arg(g, in, 0);
  need_f32(x, "input");
  if (a.axis == -1) {
    if (x.shape.numel() != 1) fail("broadcast to all axes needs a scalar, got " + x.shape.str());
    return f32(a.shape);
  }
  if (a.axis < 0 || a.axis >= a.shape.rank || a.shape.without_axis(a.axis) != x.shape)
    fail("cannot broadcast " + x.shape.str() + " to " + a.shape.str() + " along axis " + std::to_string(a.axis));
  return f32(a.shape);
}

TypeInfo infer_Reshape(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& x = arg(g, in, 0);
  if (x.shape.numel() != a.shape.numel())
    fail("cannot reshape " + x.shape.str() + " (" + std::to_string(x.shape.numel()) + " elements) to " + a.shape.str() +
         " (" + std::to_string(a.shape.numel()) + ")");
  return {a.shape, x.dtype};
}

TypeInfo infer_Transpose(const Graph& g, const std::vector<int>& in, const Attrs&) {
  const Node& x = arg(g, in, 0);
  need_f32(x, "input");
  if (x.shape.rank != 2) fail("needs a 2-D input, got " + x.shape.str());
  return f32({x.shape[1], x.shape[0]});
}

TypeInfo infer_Softmax(const Graph& g, const std::vector<int>& in, const Attrs&) { return row_op(g, in); }
TypeInfo infer_LogSoftmax(const Graph& g, const std::vector<int>& in, const Attrs&) { return row_op(g, in); }

TypeInfo infer_OneHot(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Node& y = arg(g, in, 0);
  if (y.dtype != DType::I32 || y.shape.rank != 1)
    fail("labels must be i32 [B], got " + std::string(dtype_name(y.dtype)) + " " + y.shape.str());
  if (a.depth <= 0) fail("depth must be > 0");
  return f32({y.shape[0], a.depth});
}

TypeInfo infer_SoftmaxXent(const Graph& g, const std::vector<int>& in, const Attrs&) {
  const Node& x = arg(g, in, 0);
  const Node& y = arg(g, in, 1);
  need_f32(x, "logits");
  if (x.shape.rank != 2) fail("logits must be [B,C], got " + x.shape.str());
  if (y.dtype != DType::I32 || y.shape.rank != 1 || y.shape[0] != x.shape[0])
    fail("labels must be i32 [" + std::to_string(x.shape[0]) + "] for logits " + x.shape.str() + ", got " +
         dtype_name(y.dtype) + " " + y.shape.str());
  return f32(Shape::scalar());
}

TypeInfo infer_SigmoidXent(const Graph& g, const std::vector<int>& in, const Attrs&) {
  const Node& x = arg(g, in, 0);
  const Node& z = arg(g, in, 1);
  need_f32(x, "logits");
  need_f32(z, "targets");
  if (x.shape != z.shape) fail("logits " + x.shape.str() + " and targets " + z.shape.str() + " differ");
  return f32(Shape::scalar());
}

TypeInfo infer_MaxPool2d(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  need_f32(arg(g, in, 0), "input");
  return f32(pool_out_shape(arg(g, in, 0).shape, a));
}
TypeInfo infer_AvgPool2d(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  return infer_MaxPool2d(g, in, a);
}
// max_pool2d_grad(x, dy): dx of x's shape; avg_pool2d_grad(dy): dx of shape a.shape.
TypeInfo infer_MaxPool2dGrad(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Shape& x = arg(g, in, 0).shape;
  const Shape& dy = arg(g, in, 1).shape;
  if (Shape want = pool_out_shape(x, a); dy != want)
    fail("dy " + dy.str() + " does not match the pool output " + want.str());
  return f32(x);
}
TypeInfo infer_AvgPool2dGrad(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Shape& dy = arg(g, in, 0).shape;
  if (Shape want = pool_out_shape(a.shape, a); dy != want)
    fail("dy " + dy.str() + " does not match the pool output " + want.str());
  return f32(a.shape);
}

// im2col(x): one row per output position (b, oh, ow), one column per window element (kh, kw, c) —
// the rows a convolution's GEMM multiplies by the filter seen as [KH·KW·C, F].
TypeInfo infer_Im2Col(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  need_f32(arg(g, in, 0), "input");
  const Shape& x = arg(g, in, 0).shape;
  const Shape y = pool_out_shape(x, a);
  return f32({y[0] * y[1] * y[2], a.window[0] * a.window[1] * x[3]});
}
// col2im(cols): the sum of every column entry into the input position it came from (a.shape).
TypeInfo infer_Col2Im(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Shape& cols = arg(g, in, 0).shape;
  const Shape y = pool_out_shape(a.shape, a);
  const Shape want{y[0] * y[1] * y[2], a.window[0] * a.window[1] * a.shape[3]};
  if (cols != want) fail("columns " + cols.str() + " do not match " + want.str() + " for input " + a.shape.str());
  return f32(a.shape);
}

TypeInfo infer_Conv2d(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  need_f32(arg(g, in, 0), "input");
  need_f32(arg(g, in, 1), "filter");
  return f32(conv_out_shape(arg(g, in, 0).shape, arg(g, in, 1).shape, a));
}

TypeInfo infer_Conv2dGradInput(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Shape& dy = arg(g, in, 0).shape;
  Shape want = conv_out_shape(a.shape, arg(g, in, 1).shape, a);
  if (dy != want) fail("dy " + dy.str() + " does not match the conv output " + want.str());
  return f32(a.shape);
}

TypeInfo infer_Conv2dGradFilter(const Graph& g, const std::vector<int>& in, const Attrs& a) {
  const Shape& dy = arg(g, in, 1).shape;
  Shape want = conv_out_shape(arg(g, in, 0).shape, a.shape, a);
  if (dy != want) fail("dy " + dy.str() + " does not match the conv output " + want.str());
  return f32(a.shape);
}

}  // namespace gradc
