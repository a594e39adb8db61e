// Every elementwise op defined once: its arithmetic (apply), written over a Math policy so the same
// text is instantiated for float (reference interpreter, constant folding), double (gradient
// checks) and LLVM IR (compiler/ir_math.h), and its gradient rule (grad, in the DSL). Shape
// inference is the shared broadcast rule. An op of kind Unary/Binary in op_list.h without a
// Def here fails to compile (apply_elementwise, op_table.cpp), never a silent NaN at run time.
// Dropout (a counter-based mask, not a pure function of its input) is lowered on its own.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/dsl.h"

namespace gradc {

// What a definition may compute with. V is the value type; c() makes a constant.
template <class T>
struct ScalarMath {
  using V = T;
  V c(double v) const { return static_cast<T>(v); }
  V add(V a, V b) const { return a + b; }
  V sub(V a, V b) const { return a - b; }
  V mul(V a, V b) const { return a * b; }
  V div(V a, V b) const { return a / b; }
  V neg(V a) const { return -a; }
  V max(V a, V b) const { return a > b ? a : b; }
  V if_pos(V cond, V a, V b) const { return cond > T(0) ? a : b; }  // cond > 0 ? a : b (NaN: b)
  V exp(V x) const { return std::exp(x); }
  V log(V x) const { return std::log(x); }
  V sqrt(V x) const { return std::sqrt(x); }
  V tanh(V x) const { return std::tanh(x); }
};

// Ops that are pure maps of their operands (kind Unary or Binary, not dropout).
constexpr bool is_map_op(Op op, OpKind k) { return (k == OpKind::Unary || k == OpKind::Binary) && op != Op::Dropout; }

namespace ew {
inline Tensor in(const Node& n, Tensor out, size_t k) { return {out.g, n.in[k]}; }
// By value: rules append nodes, which may move the node storage.
inline Shape in_shape(const Node& n, Tensor out, size_t k) { return out.g->node(n.in[k]).shape; }
using Grads = std::vector<Tensor>;
}  // namespace ew

template <Op op>
struct Def;  // specialised below for every map op

#define GRADC_APPLY  \
  template <class M> \
  static typename M::V apply(const M& m, typename M::V x, typename M::V y, const Attrs& a)
#define GRADC_GRAD static void grad(const Node& n, Tensor out, Tensor dy, ew::Grads& dx)

// ---- binary --------------------------------------------------------------------------------
template <>
struct Def<Op::Add> {
  GRADC_APPLY { return (void)a, m.add(x, y); }
  GRADC_GRAD {
    dx[0] = sum_to(dy, ew::in_shape(n, out, 0));
    dx[1] = sum_to(dy, ew::in_shape(n, out, 1));
  }
};
template <>
struct Def<Op::Sub> {
  GRADC_APPLY { return (void)a, m.sub(x, y); }
  GRADC_GRAD {
    dx[0] = sum_to(dy, ew::in_shape(n, out, 0));
    dx[1] = sum_to(neg(dy), ew::in_shape(n, out, 1));
  }
};
template <>
struct Def<Op::Mul> {
  GRADC_APPLY { return (void)a, m.mul(x, y); }
  GRADC_GRAD {
    dx[0] = sum_to(dy * ew::in(n, out, 1), ew::in_shape(n, out, 0));
    dx[1] = sum_to(dy * ew::in(n, out, 0), ew::in_shape(n, out, 1));
  }
};
template <>
struct Def<Op::Div> {
  GRADC_APPLY { return (void)a, m.div(x, y); }
  GRADC_GRAD {
    Tensor b = ew::in(n, out, 1);
    dx[0] = sum_to(dy / b, ew::in_shape(n, out, 0));
    dx[1] = sum_to(neg(dy * out / b), ew::in_shape(n, out, 1));  // d(a/b)/db = -(a/b)/b
  }
};
template <>
struct Def<Op::Maximum> {
  GRADC_APPLY { return (void)a, m.max(x, y); }
  GRADC_GRAD {
    // Ties send the gradient to b, like a subgradient choice; relu_grad(a-b, dy) = dy·[a > b].
    Tensor to_a = relu_grad(ew::in(n, out, 0) - ew::in(n, out, 1), dy);
    dx[0] = sum_to(to_a, ew::in_shape(n, out, 0));
    dx[1] = sum_to(dy - to_a, ew::in_shape(n, out, 1));
  }
};
template <>
struct Def<Op::ReluGrad> {                    // relu_grad(x, dy) = dy·[x > 0]: backward-only, no gradient of its own
  static constexpr bool custom_infer = true;  // x and dy of one shape (shape_rules.cpp)
  GRADC_APPLY { return (void)a, m.if_pos(x, y, m.c(0)); }
};

// ---- unary ---------------------------------------------------------------------------------
template <>
struct Def<Op::Neg> {
  GRADC_APPLY { return (void)y, (void)a, m.neg(x); }
  GRADC_GRAD { (void)n, (void)out, dx[0] = neg(dy); }
};
template <>
struct Def<Op::Exp> {
  GRADC_APPLY { return (void)y, (void)a, m.exp(x); }
  GRADC_GRAD { (void)n, dx[0] = dy * out; }
};
template <>
struct Def<Op::Log> {
  GRADC_APPLY { return (void)y, (void)a, m.log(x); }
  GRADC_GRAD { dx[0] = dy / ew::in(n, out, 0); }
};
template <>
struct Def<Op::Sqrt> {
  GRADC_APPLY { return (void)y, (void)a, m.sqrt(x); }
  GRADC_GRAD { (void)n, dx[0] = dy * 0.5f / out; }
};
template <>
struct Def<Op::Square> {
  GRADC_APPLY { return (void)y, (void)a, m.mul(x, x); }
  GRADC_GRAD { dx[0] = dy * ew::in(n, out, 0) * 2.f; }
};
// The activations' rules use the output, not the input, where they can, so the forward input need
// not stay alive for the backward.
template <>
struct Def<Op::Relu> {
  GRADC_APPLY { return (void)y, (void)a, m.if_pos(x, x, m.c(0)); }
  GRADC_GRAD { (void)n, dx[0] = relu_grad(out, dy); }
};
template <>
struct Def<Op::Sigmoid> {
  GRADC_APPLY { return (void)y, (void)a, m.div(m.c(1), m.add(m.c(1), m.exp(m.neg(x)))); }
  GRADC_GRAD { (void)n, dx[0] = dy * out * (1.f - out); }
};
template <>
struct Def<Op::Tanh> {
  GRADC_APPLY { return (void)y, (void)a, m.tanh(x); }
  GRADC_GRAD { (void)n, dx[0] = dy * (1.f - square(out)); }
};
// leaky_relu(x) = x > 0 ? x : alpha·x (Keras' LeakyReLU; alpha = negative_slope).
template <>
struct Def<Op::LeakyRelu> {
  GRADC_APPLY { return (void)y, m.if_pos(x, x, m.mul(m.c(a.alpha), x)); }
  GRADC_GRAD {  // dy·[x > 0] + alpha·dy·[x <= 0] = relu_grad(x, (1 - alpha)·dy) + alpha·dy
    const float alpha = n.a.alpha;
    dx[0] = relu_grad(ew::in(n, out, 0), dy * (1.f - alpha)) + dy * alpha;
  }
};
// elu(x) = x > 0 ? x : alpha·(e^x - 1) (Clevert et al. 2015; Keras' default alpha = 1).
template <>
struct Def<Op::Elu> {
  GRADC_APPLY { return (void)y, m.if_pos(x, x, m.mul(m.c(a.alpha), m.sub(m.exp(x), m.c(1)))); }
  GRADC_GRAD {  // x > 0: dy; else dy·alpha·e^x = dy·(out + alpha). Written so that x > 0 is exact.
    Tensor t = dy * (out + n.a.alpha);
    Tensor x = ew::in(n, out, 0);
    dx[0] = relu_grad(x, dy) + (t - relu_grad(x, t));
  }
};
// softplus(x) = log(1 + e^x), as max(x, 0) + log1p(e^-|x|): no overflow for large x, full relative
// precision for very negative x (softplus(-50) = e^-50, where log(1 + e^-50) rounds to 0).
template <>
struct Def<Op::Softplus> {
  GRADC_APPLY {
    (void)y, (void)a;
    const auto u = m.exp(m.neg(m.max(x, m.neg(x))));  // e^-|x| in (0, 1]
    const auto w = m.add(m.c(1), u);
    // log1p(u) = log(w)·u/(w - 1), exact where w rounds to 1 (then it is u); w - 1 >= 0.
    const auto log1p = m.if_pos(m.sub(w, m.c(1)), m.div(m.mul(m.log(w), u), m.sub(w, m.c(1))), u);
    return m.add(m.max(x, m.c(0)), log1p);
  }
  GRADC_GRAD { dx[0] = dy * sigmoid(ew::in(n, out, 0)); }  // d/dx log(1 + e^x) = σ(x)
};

#undef GRADC_APPLY
#undef GRADC_GRAD

template <Op op, OpKind kind, class M>
typename M::V apply_if_map(const M& m, typename M::V x, typename M::V y, const Attrs& a) {
  if constexpr (is_map_op(op, kind))
    return Def<op>::apply(m, x, y, a);  // no Def for a map op: a compile error here
  else
    throw std::logic_error(std::string("gradc: ") + op_name(op) + " is not an elementwise map");
}

// Op known only at run time -> its Def (M: ScalarMath<float/double>, or the IR emitter's math).
template <class M>
typename M::V apply_elementwise(const M& m, Op op, typename M::V x, typename M::V y, const Attrs& a) {
  switch (op) {
#define GRADC_EW_CASE(E, name, arity, kind, diff) \
  case Op::E:                                     \
    return apply_if_map<Op::E, OpKind::kind>(m, x, y, a);
    GRADC_OPS(GRADC_EW_CASE)
#undef GRADC_EW_CASE
  }
  throw std::logic_error("gradc: op outside the table");
}

}  // namespace gradc
