#include "autodiff/dsl.h"

namespace gradc {

namespace {
Graph& graph_of(Tensor a, const Loc& loc) {
  if (!a.valid()) throw GraphError("gradc: use of an empty Tensor (at " + where_str(loc) + ")");
  return *a.g;
}
Graph& graph_of(Tensor a, Tensor b, const Loc& loc) {
  Graph& g = graph_of(a, loc);
  if (&graph_of(b, loc) != &g)
    throw GraphError("gradc: tensors from different graphs combined (at " + where_str(loc) + ")");
  return g;
}
Tensor unary(Op op, Tensor x, const Loc& loc, Attrs a = {}) {
  return graph_of(x, loc).add(op, {x.id}, std::move(a), loc);
}
Tensor binary(Op op, Tensor x, Tensor y, const Loc& loc, Attrs a = {}) {
  return graph_of(x, y, loc).add(op, {x.id, y.id}, std::move(a), loc);
}
}  // namespace

Tensor constant(Graph& g, float value, Shape s, Loc loc) {
  Attrs a;
  a.value = value;
  a.shape = s;
  return g.add(Op::Constant, {}, a, loc);
}

Tensor constant_data(Graph& g, Shape s, std::vector<float> data, Loc loc) {
  if (static_cast<int64_t>(data.size()) != s.numel())
    throw GraphError("gradc: constant of shape " + s.str() + " given " + std::to_string(data.size()) + " values (at " +
                     where_str(loc) + ")");
  Attrs a;
  a.shape = s;
  a.data = std::move(data);
  return g.add(Op::Constant, {}, a, loc);
}

Tensor matmul(Tensor a, Tensor b, bool ta, bool tb, Loc loc) {
  Attrs at;
  at.ta = ta;
  at.tb = tb;
  return binary(Op::MatMul, a, b, loc, at);
}
Tensor add(Tensor a, Tensor b, Loc loc) { return binary(Op::Add, a, b, loc); }
Tensor sub(Tensor a, Tensor b, Loc loc) { return binary(Op::Sub, a, b, loc); }
Tensor mul(Tensor a, Tensor b, Loc loc) { return binary(Op::Mul, a, b, loc); }
Tensor div(Tensor a, Tensor b, Loc loc) { return binary(Op::Div, a, b, loc); }
Tensor maximum(Tensor a, Tensor b, Loc loc) { return binary(Op::Maximum, a, b, loc); }
Tensor neg(Tensor x, Loc loc) { return unary(Op::Neg, x, loc); }
Tensor exp(Tensor x, Loc loc) { return unary(Op::Exp, x, loc); }
Tensor log(Tensor x, Loc loc) { return unary(Op::Log, x, loc); }
Tensor sqrt(Tensor x, Loc loc) { return unary(Op::Sqrt, x, loc); }
Tensor square(Tensor x, Loc loc) { return unary(Op::Square, x, loc); }
Tensor relu(Tensor x, Loc loc) { return unary(Op::Relu, x, loc); }
Tensor sigmoid(Tensor x, Loc loc) { return unary(Op::Sigmoid, x, loc); }
Tensor tanh(Tensor x, Loc loc) { return unary(Op::Tanh, x, loc); }
namespace {
// leaky_relu's slope and elu's saturation: both the alpha attribute.
Tensor with_alpha(Op op, Tensor x, float alpha, const Loc& loc) {
  Attrs a;
  a.alpha = alpha;
  return unary(op, x, loc, a);
}
}  // namespace
Tensor leaky_relu(Tensor x, float alpha, Loc loc) { return with_alpha(Op::LeakyRelu, x, alpha, loc); }
Tensor elu(Tensor x, float alpha, Loc loc) { return with_alpha(Op::Elu, x, alpha, loc); }
Tensor softplus(Tensor x, Loc loc) { return unary(Op::Softplus, x, loc); }
Tensor relu_grad(Tensor x, Tensor dy, Loc loc) { return binary(Op::ReluGrad, x, dy, loc); }

Tensor dropout(Tensor x, Tensor key, float rate, bool training, Loc loc) {
  Attrs a;
  a.value = rate;
  a.training = training;
  return binary(Op::Dropout, x, key, loc, a);
}

Tensor allreduce(Tensor x, float scale, int bucket, Loc loc) {
  Attrs a;
  a.value = scale;
  a.bucket = bucket;
  return unary(Op::AllReduce, x, loc, a);
}

Tensor sum(Tensor x, int axis, Loc loc) {
  Attrs a;
  a.axis = axis;
  return unary(Op::Sum, x, loc, a);
}
Tensor mean(Tensor x, int axis, Loc loc) {
  Attrs a;
  a.axis = axis;
  return unary(Op::Mean, x, loc, a);
}
Tensor broadcast(Tensor x, Shape s, int axis, Loc loc) {
  Attrs a;
  a.axis = axis;
  a.shape = s;
  return unary(Op::Broadcast, x, loc, a);
}
Tensor reshape(Tensor x, Shape s, Loc loc) {
  Attrs a;
  a.shape = s;
  return unary(Op::Reshape, x, loc, a);
}
Tensor flatten(Tensor x, Loc loc) {
  const Shape s = graph_of(x, loc).node(x.id).shape;
  if (s.rank < 1) throw GraphError("gradc: flatten of a scalar (at " + where_str(loc) + ")");
  return reshape(x, {s[0], s.numel() / (s[0] == 0 ? 1 : s[0])}, loc);
}
Tensor global_avg_pool(Tensor x, Loc loc) {
  const Shape s = graph_of(x, loc).node(x.id).shape;
  if (s.rank != 4)
    throw GraphError("gradc: global_avg_pool needs NHWC rank 4, got " + s.str() + " (at " + where_str(loc) + ")");
  return mean(reshape(x, {s[0], s[1] * s[2], s[3]}, loc), 1, loc);
}
Tensor batch_norm(Tensor x, const std::string& name, bool training, float momentum, float epsilon, Loc loc) {
  Graph& g = graph_of(x, loc);
  const Shape s = g.node(x.id).shape;
  if (s.rank < 2)
    throw GraphError("gradc: batch_norm needs [batch, ..., channels], got " + s.str() + " (at " + where_str(loc) + ")");
  const int64_t C = s[s.rank - 1];
  Tensor gamma = g.param(name + "/gamma", {C}, Init::Fill, 1.f, loc);
  Tensor beta = g.param(name + "/beta", {C}, Init::Zeros, 0.f, loc);
  Tensor moving_mean = g.moving(name + "/moving_mean", {C}, Init::Zeros, 0.f, loc);
  Tensor moving_var = g.moving(name + "/moving_variance", {C}, Init::Fill, 1.f, loc);
  Tensor rows = reshape(x, {s.numel() / C, C}, loc);  // every position of every example, per channel
  Tensor mu = moving_mean, var = moving_var;
  if (training) {
    mu = mean(rows, 0, loc);
    var = mean(square(rows - mu), 0, loc);
    g.assign(moving_mean, moving_mean * momentum + mu * (1.f - momentum), loc);
    g.assign(moving_var, moving_var * momentum + var * (1.f - momentum), loc);
  }
  // As tf.nn.batch_normalization computes it: per-channel scale and shift first ([C] vectors), so
  // the activations see one multiply-add pass (forward) and the backward pass few full-size kernels.
  Tensor scale = gamma / sqrt(var + epsilon);
  Tensor shift = beta - mu * scale;
  return reshape(rows * scale + shift, s, loc);
}

Tensor transpose(Tensor x, Loc loc) { return unary(Op::Transpose, x, loc); }

Tensor sum_to(Tensor x, Shape s, Loc loc) {
  const Shape xs = graph_of(x, loc).node(x.id).shape;
  if (xs == s) return x;
  if (s.rank == 0 || s.numel() == 1) return reshape(sum(x, -1, loc), s, loc);
  // s is a suffix of xs: view x as [prod(prefix), prod(s)] and sum the rows.
  const Shape flat_shape{xs.numel() / s.numel(), s.numel()};
  Tensor flat = xs == flat_shape ? x : reshape(x, flat_shape, loc);
  Tensor r = sum(flat, 0, loc);
  return r.shape() == s ? r : reshape(r, s, loc);
}

Tensor softmax(Tensor x, Loc loc) { return unary(Op::Softmax, x, loc); }
Tensor log_softmax(Tensor x, Loc loc) { return unary(Op::LogSoftmax, x, loc); }
Tensor one_hot(Tensor labels, int64_t depth, Loc loc) {
  Attrs a;
  a.depth = depth;
  return unary(Op::OneHot, labels, loc, a);
}
Tensor softmax_xent(Tensor logits, Tensor labels, Loc loc) { return binary(Op::SoftmaxXent, logits, labels, loc); }
Tensor sigmoid_xent(Tensor logits, Tensor targets, Loc loc) { return binary(Op::SigmoidXent, logits, targets, loc); }

Tensor conv2d(Tensor x, Tensor w, Padding pad, Shape strides, Loc loc) {
  Attrs a;
  a.pad = pad;
  a.strides = strides;
  return binary(Op::Conv2d, x, w, loc, a);
}
Tensor conv2d_grad_input(Tensor dy, Tensor w, Shape x_shape, Padding pad, Shape strides, Loc loc) {
  Attrs a;
  a.pad = pad;
  a.strides = strides;
  a.shape = x_shape;
  return binary(Op::Conv2dGradInput, dy, w, loc, a);
}
Tensor conv2d_grad_filter(Tensor x, Tensor dy, Shape w_shape, Padding pad, Shape strides, Loc loc) {
  Attrs a;
  a.pad = pad;
  a.strides = strides;
  a.shape = w_shape;
  return binary(Op::Conv2dGradFilter, x, dy, loc, a);
}

namespace {
Tensor pool2d(Op op, Tensor x, Shape window, Shape strides, Padding pad, const Loc& loc) {
  Attrs a;
  a.window = window;
  a.strides = strides.rank == 0 ? window : strides;
  a.pad = pad;
  return unary(op, x, loc, a);
}
}  // namespace
Tensor max_pool2d(Tensor x, Shape window, Shape strides, Padding pad, Loc loc) {
  return pool2d(Op::MaxPool2d, x, window, strides, pad, loc);
}
Tensor avg_pool2d(Tensor x, Shape window, Shape strides, Padding pad, Loc loc) {
  return pool2d(Op::AvgPool2d, x, window, strides, pad, loc);
}
Tensor pool2d_grad(Op op, Tensor x, Tensor dy, Attrs a, Loc loc) {
  return op == Op::MaxPool2dGrad ? binary(op, x, dy, loc, std::move(a)) : unary(op, dy, loc, std::move(a));
}

Tensor matmul_split_k(Tensor a, Tensor b, int64_t splits, bool ta, Loc loc) {
  Attrs at;
  at.ta = ta;
  at.splits = splits;
  return binary(Op::MatMulSplitK, a, b, loc, at);
}
Tensor im2col(Tensor x, Attrs a, Loc loc) { return unary(Op::Im2Col, x, loc, std::move(a)); }
Tensor col2im(Tensor cols, Attrs a, Loc loc) { return unary(Op::Col2Im, cols, loc, std::move(a)); }

Tensor dense(Tensor x, int64_t units, const std::string& name, Loc loc) {
  Graph& g = graph_of(x, loc);
  const Shape s = g.node(x.id).shape;
  if (s.rank != 2)
    throw GraphError("gradc: dense '" + name + "' needs a 2-D input, got " + s.str() + " (at " + where_str(loc) + ")");
  Tensor w = g.param(name + "/W", {s[1], units}, Init::GlorotUniform, 0.f, loc);
  Tensor b = g.param(name + "/b", {units}, Init::Zeros, 0.f, loc);
  return add(matmul(x, w, false, false, loc), b, loc);
}

Tensor gelu(Tensor x, Loc loc) {
  constexpr float kSqrt2OverPi = 0.7978845608f;
  Tensor cube = mul(square(x, loc), x, loc);
  Tensor inner = mul(add(x, mul(cube, constant(graph_of(x, loc), 0.044715f, {}, loc), loc), loc),
                     constant(graph_of(x, loc), kSqrt2OverPi, {}, loc), loc);
  Tensor one_plus = add(tanh(inner, loc), constant(graph_of(x, loc), 1.f, {}, loc), loc);
  return mul(mul(x, one_plus, loc), constant(graph_of(x, loc), 0.5f, {}, loc), loc);
}

std::span<const ActivationInfo> activations() {
  static constexpr ActivationInfo kList[] = {
      {"relu", [](Tensor x, Loc loc) { return relu(x, loc); }, "relu"},
      {"tanh", [](Tensor x, Loc loc) { return tanh(x, loc); }, "tanh"},
      {"sigmoid", [](Tensor x, Loc loc) { return sigmoid(x, loc); }, "sigmoid"},
      {"gelu", [](Tensor x, Loc loc) { return gelu(x, loc); }, nullptr},
      {"leaky_relu", [](Tensor x, Loc loc) { return leaky_relu(x, 0.3f, loc); }, "leaky_relu"},
      {"elu", [](Tensor x, Loc loc) { return elu(x, 1.f, loc); }, "elu"},
      {"softplus", [](Tensor x, Loc loc) { return softplus(x, loc); }, "softplus"},
  };
  return kList;
}

std::string activation_names() {
  std::string s;
  for (const ActivationInfo& a : activations()) s += std::string(a.name) + ", ";
  return s + "linear";
}

Tensor activation(Tensor x, const std::string& kind, Loc loc) {
  for (const ActivationInfo& a : activations())
    if (kind == a.name) return a.build(x, loc);
  if (kind == "linear") return x;
  throw std::invalid_argument("gradc: unknown activation '" + kind + "' (use " + activation_names() + ")");
}

Tensor operator+(At a, Tensor b) { return add(a.t, b, a.loc); }
Tensor operator-(At a, Tensor b) { return sub(a.t, b, a.loc); }
Tensor operator*(At a, Tensor b) { return mul(a.t, b, a.loc); }
Tensor operator/(At a, Tensor b) { return div(a.t, b, a.loc); }
Tensor operator+(At a, float b) { return add(a.t, constant(graph_of(a.t, a.loc), b, {}, a.loc), a.loc); }
Tensor operator-(At a, float b) { return sub(a.t, constant(graph_of(a.t, a.loc), b, {}, a.loc), a.loc); }
Tensor operator*(At a, float b) { return mul(a.t, constant(graph_of(a.t, a.loc), b, {}, a.loc), a.loc); }
Tensor operator/(At a, float b) { return div(a.t, constant(graph_of(a.t, a.loc), b, {}, a.loc), a.loc); }
Tensor operator+(float a, At b) { return add(constant(graph_of(b.t, b.loc), a, {}, b.loc), b.t, b.loc); }
Tensor operator-(float a, At b) { return sub(constant(graph_of(b.t, b.loc), a, {}, b.loc), b.t, b.loc); }
Tensor operator*(float a, At b) { return mul(constant(graph_of(b.t, b.loc), a, {}, b.loc), b.t, b.loc); }
Tensor operator/(float a, At b) { return div(constant(graph_of(b.t, b.loc), a, {}, b.loc), b.t, b.loc); }
Tensor operator-(At a) { return neg(a.t, a.loc); }

}  // namespace gradc
