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
void grad_ReluGrad(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_OneHot(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Conv2dGradInput(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Conv2dGradFilter(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_Dense(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
void grad_MatMulMask(const Node& n, Tensor, Tensor, std::vector<Tensor>&) { no_rule(n); }
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

void grad_Add(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = sum_to(dy, in_shape(n, out, 0));
  dx[1] = sum_to(dy, in_shape(n, out, 1));
}
void grad_Sub(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = sum_to(dy, in_shape(n, out, 0));
  dx[1] = sum_to(neg(dy), in_shape(n, out, 1));
}
void grad_Mul(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = sum_to(dy * in(n, out, 1), in_shape(n, out, 0));
  dx[1] = sum_to(dy * in(n, out, 0), in_shape(n, out, 1));
}
void grad_Div(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  Tensor b = in(n, out, 1);
  dx[0] = sum_to(dy / b, in_shape(n, out, 0));
  dx[1] = sum_to(neg(dy * out / b), in_shape(n, out, 1));  // d(a/b)/db = -(a/b)/b
}
void grad_Maximum(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  // Ties send the gradient to b, like a subgradient choice; relu_grad(a-b, dy) = dy·[a > b].
  Tensor to_a = relu_grad(in(n, out, 0) - in(n, out, 1), dy);
  dx[0] = sum_to(to_a, in_shape(n, out, 0));
  dx[1] = sum_to(dy - to_a, in_shape(n, out, 1));
}

void grad_Neg(const Node&, Tensor, Tensor dy, std::vector<Tensor>& dx) { dx[0] = neg(dy); }
void grad_Exp(const Node&, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy * out; }
void grad_Log(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy / in(n, out, 0); }
void grad_Sqrt(const Node&, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy * 0.5f / out; }
void grad_Square(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy * in(n, out, 0) * 2.f; }
// Uses the output, not the input, so the forward input need not stay alive for the backward.
void grad_Relu(const Node&, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = relu_grad(out, dy); }
void grad_Sigmoid(const Node&, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy * out * (1.f - out); }
void grad_Tanh(const Node&, Tensor out, Tensor dy, std::vector<Tensor>& dx) { dx[0] = dy * (1.f - square(out)); }
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

void grad_Conv2d(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx) {
  dx[0] = conv2d_grad_input(dy, in(n, out, 1), in_shape(n, out, 0), n.a.pad);
  dx[1] = conv2d_grad_filter(in(n, out, 0), dy, in_shape(n, out, 1), n.a.pad);
}

}  // namespace gradc
