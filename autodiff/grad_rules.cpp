#include "autodiff/grad_rules.h"

#include "autodiff/dsl.h"

namespace gradc {

namespace {
Tensor in(const Node& n, Tensor out, size_t k) { return {out.g, n.in[k]}; }
// By value: rules append nodes, which may move the node storage.
Shape in_shape(const Node& n, Tensor out, size_t k) { return out.g->node(n.in[k]).shape; }
[[noreturn]] void no_rule(const Node& n) {
  throw GraphError(std::string("gradc: op '") + op_name(n.op) + "' has no gradient rule");
}
}  // namespace

// Sources and backward-only ops: never called (the autodiff walk stops at them / reports them).
void grad_Input(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Parameter(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Constant(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_OneHot(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Conv2dGradInput(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Conv2dGradFilter(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_MaxPool2dGrad(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_AvgPool2dGrad(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Im2Col(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Col2Im(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Dense(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_MatMulMask(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_MatMulUpdate(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_SoftmaxXentGrad(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_AllReduce(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }

void grad_MatMul(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  Tensor a = in(n, out, 0), b = in(n, out, 1);
  const bool ta = n.a.ta, tb = n.a.tb;
  if (!ta && !tb) {
    dx[0] = matmul(dy, b, false, true);
    dx[1] = matmul(a, dy, true, false);
  } else if (!ta && tb) {
    dx[0] = matmul(dy, b);
    dx[1] = matmul(dy, a, true, false);
  } else if (ta && !tb) {
    dx[0] = matmul(b, dy, false, true);
    dx[1] = matmul(a, dy);
  } else {
    dx[0] = matmul(b, dy, true, true);
    dx[1] = matmul(dy, a, true, true);
  }
}

void grad_Dropout(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = dropout(dy, in(n, out, 1), n.a.value, n.a.training);  // same key -> same mask
}

void grad_Sum(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = broadcast(dy, in_shape(n, out, 0), n.a.axis);
}
void grad_Mean(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  const Shape s = in_shape(n, out, 0);
  float count = static_cast<float>(n.a.axis == -1 ? s.numel() : s[n.a.axis]);
  dx[0] = broadcast(dy / count, s, n.a.axis);
}
void grad_Broadcast(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  const Shape s = in_shape(n, out, 0);
  dx[0] = n.a.axis == -1 ? reshape(sum(dy), s) : sum(dy, n.a.axis);
}
void grad_Reshape(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = reshape(dy, in_shape(n, out, 0));
}
void grad_Transpose(const Node&, Tensor, Tensor dy, std::vector<Tensor>& dx) { dx[0] = transpose(dy); }

void grad_Softmax(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  const Shape& s = n.shape;
  Tensor dot = broadcast(sum(dy * out, s.rank - 1), s, s.rank - 1);
  dx[0] = out * (dy - dot);
}
void grad_LogSoftmax(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  const Shape& s = n.shape;
  dx[0] = dy - exp(out) * broadcast(sum(dy, s.rank - 1), s, s.rank - 1);
}
void grad_SoftmaxXent(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  Tensor logits = in(n, out, 0);
  const Shape s = in_shape(n, out, 0);
  Tensor p = softmax(logits) - one_hot(in(n, out, 1), s[1]);
  dx[0] = p * (dy / static_cast<float>(s[0]));
}
void grad_SigmoidXent(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  Tensor x = in(n, out, 0);
  Tensor scale = dy / static_cast<float>(in_shape(n, out, 0).numel());
  dx[0] = (sigmoid(x) - in(n, out, 1)) * scale;
  dx[1] = neg(x) * scale;
}

// Max-pool's gradient goes to the first maximum of each window (row-major), as TensorFlow's does.
void grad_MaxPool2d(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = pool2d_grad(Op::MaxPool2dGrad, in(n, out, 0), dy, n.a);
}
void grad_AvgPool2d(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  Attrs a = n.a;
  a.shape = in_shape(n, out, 0);
  dx[0] = pool2d_grad(Op::AvgPool2dGrad, Tensor{}, dy, a);
}

void grad_Conv2d(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = conv2d_grad_input(dy, in(n, out, 1), in_shape(n, out, 0), n.a.pad, n.a.strides);
  dx[1] = conv2d_grad_filter(in(n, out, 0), dy, in_shape(n, out, 1), n.a.pad, n.a.strides);
}

}  // namespace gradc
