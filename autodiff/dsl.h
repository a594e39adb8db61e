// The model-building DSL: free functions and operators over Tensor handles. Every function records
// the caller's source location so a shape error points at the user's line, not at gradc.
#pragma once
#include <source_location>
#include <span>
#include <string>

#include "autodiff/graph.h"

namespace gradc {

using Loc = std::source_location;
#define GRADC_LOC Loc loc = Loc::current()

// Carries the call site through operators (operators cannot take default arguments themselves; the
// implicit conversion's default argument is evaluated at the user's expression).
struct At {
  Tensor t;
  Loc loc;
  At(Tensor x, Loc l = Loc::current()) : t(x), loc(l) {}  // NOLINT: implicit on purpose
};

Tensor constant(Graph& g, float value, Shape s = Shape::scalar(), GRADC_LOC);
Tensor constant_data(Graph& g, Shape s, std::vector<float> data, GRADC_LOC);

Tensor matmul(Tensor a, Tensor b, bool ta = false, bool tb = false, GRADC_LOC);
// op(a)·b as `splits` partial products over chunks of k, [splits, M, N] (the split-k pass makes it;
// tests build it directly): sum(matmul_split_k(a, b, s, ta), 0) == matmul(a, b, ta).
Tensor matmul_split_k(Tensor a, Tensor b, int64_t splits, bool ta = true, GRADC_LOC);
Tensor add(Tensor a, Tensor b, GRADC_LOC);
Tensor sub(Tensor a, Tensor b, GRADC_LOC);
Tensor mul(Tensor a, Tensor b, GRADC_LOC);
Tensor div(Tensor a, Tensor b, GRADC_LOC);
Tensor maximum(Tensor a, Tensor b, GRADC_LOC);
Tensor neg(Tensor x, GRADC_LOC);
Tensor exp(Tensor x, GRADC_LOC);
Tensor log(Tensor x, GRADC_LOC);
Tensor sqrt(Tensor x, GRADC_LOC);
Tensor square(Tensor x, GRADC_LOC);
Tensor relu(Tensor x, GRADC_LOC);
Tensor sigmoid(Tensor x, GRADC_LOC);
Tensor tanh(Tensor x, GRADC_LOC);
// x > 0 ? x : alpha·x (Keras' LeakyReLU default alpha 0.3).
Tensor leaky_relu(Tensor x, float alpha = 0.3f, GRADC_LOC);
// x > 0 ? x : alpha·(e^x - 1) (Keras' ELU default alpha 1).
Tensor elu(Tensor x, float alpha = 1.f, GRADC_LOC);
// log(1 + e^x), computed without overflow.
Tensor softplus(Tensor x, GRADC_LOC);
// dy * (x > 0): the ReLU backward, its own op so the compiler can fold it into GEMM epilogues.
Tensor relu_grad(Tensor x, Tensor dy, GRADC_LOC);
// Inverted dropout: keeps each element with probability 1-rate and scales by 1/(1-rate). The mask
// is a hash of (key, element index), `key` an i32 scalar the trainer feeds per step, so the same
// key reproduces the mask (that is the gradient rule). training=false is the identity.
Tensor dropout(Tensor x, Tensor key, float rate, bool training = true, GRADC_LOC);
// Sum of x over the data-parallel ranks, times `scale` (1/ranks: the mean), reduced together with
// the other members of `bucket`. Backward-only: the optimizer puts it between gradient and update.
Tensor allreduce(Tensor x, float scale, int bucket, GRADC_LOC);

Tensor sum(Tensor x, int axis = -1, GRADC_LOC);
Tensor mean(Tensor x, int axis = -1, GRADC_LOC);
// Inverse of sum along `axis` (axis = -1: scalar to `s`): repeats x along the new axis.
Tensor broadcast(Tensor x, Shape s, int axis = -1, GRADC_LOC);
Tensor reshape(Tensor x, Shape s, GRADC_LOC);
Tensor flatten(Tensor x, GRADC_LOC);  // [B, ...] -> [B, prod(...)]
// Keras GlobalAveragePooling2D: [B, H, W, C] -> [B, C], the mean over every position (a reshape
// and a mean, so its gradient and kernels are theirs).
Tensor global_avg_pool(Tensor x, GRADC_LOC);
// Keras BatchNormalization over the last axis (channels): in training, the batch's mean and
// (biased) variance over every other axis normalise x, and the moving statistics NAME/moving_mean
// and NAME/moving_variance (role Moving: saved, used for evaluation, not trained) take
// momentum·moving + (1 − momentum)·batch at the end of the step; in evaluation the moving
// statistics normalise. Then ·gamma + beta (NAME/gamma = 1, NAME/beta = 0 initially).
Tensor batch_norm(Tensor x, const std::string& name, bool training, float momentum = 0.99f, float epsilon = 1e-3f,
                  GRADC_LOC);
Tensor transpose(Tensor x, GRADC_LOC);  // 2-D
// Sums x down to shape `s` (s a suffix of x's shape): the gradient of a broadcasting binary op.
Tensor sum_to(Tensor x, Shape s, GRADC_LOC);

Tensor softmax(Tensor x, GRADC_LOC);      // along the last axis
Tensor log_softmax(Tensor x, GRADC_LOC);  // along the last axis
Tensor one_hot(Tensor labels, int64_t depth, GRADC_LOC);
// Mean over the batch of -log softmax(logits)[label]; labels are i32 [B].
Tensor softmax_xent(Tensor logits, Tensor labels, GRADC_LOC);
// Mean over all elements of the logistic loss; targets are f32 in [0,1], same shape as logits.
Tensor sigmoid_xent(Tensor logits, Tensor targets, GRADC_LOC);

// NHWC input, HWIO filter, stride 1.
// strides [h, w]: empty = [1, 1]; same padding with strides pads as TensorFlow does.
Tensor conv2d(Tensor x, Tensor w, Padding pad = Padding::Valid, Shape strides = {}, GRADC_LOC);
Tensor conv2d_grad_input(Tensor dy, Tensor w, Shape x_shape, Padding pad, Shape strides = {}, GRADC_LOC);
Tensor conv2d_grad_filter(Tensor x, Tensor dy, Shape w_shape, Padding pad, Shape strides = {}, GRADC_LOC);
// Pooling over NHWC windows (Keras MaxPooling2D / AveragePooling2D): `window` [h, w], `strides`
// [h, w] (empty: the window), valid or same padding. Average pooling divides by the window's
// elements inside the input (padding is not counted), as TensorFlow does.
Tensor max_pool2d(Tensor x, Shape window = {2, 2}, Shape strides = {}, Padding pad = Padding::Valid, GRADC_LOC);
Tensor avg_pool2d(Tensor x, Shape window = {2, 2}, Shape strides = {}, Padding pad = Padding::Valid, GRADC_LOC);
// The backward ops autodiff adds: max_pool2d_grad(x, dy) and avg_pool2d_grad(dy) (x unused, a.shape
// = the input's shape), with the forward op's attributes.
Tensor pool2d_grad(Op op, Tensor x, Tensor dy, Attrs a, GRADC_LOC);
// The conv-gemm pass's layout ops (built directly by tests): im2col(x) with window/strides/pad of
// `a`; col2im(cols) back into a.shape.
Tensor im2col(Tensor x, Attrs a, GRADC_LOC);
Tensor col2im(Tensor cols, Attrs a, GRADC_LOC);

// A fully connected layer: x·W + b with Glorot-uniform W and zero b, named name/W and name/b.
Tensor dense(Tensor x, int64_t units, const std::string& name, GRADC_LOC);
// GELU, tanh form (Hendrycks & Gimpel 2016): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — built from
// table ops, so its gradient, fusion and kernels come for free.
Tensor gelu(Tensor x, GRADC_LOC);
// The activations by name: the one list behind activation(), --activation, the arch check, summary's
// layer types and the report. `op` marks the activation in a graph (gelu: a composite, none).
struct ActivationInfo {
  const char* name;
  Tensor (*build)(Tensor x, Loc loc);
  const char* op;
};
std::span<const ActivationInfo> activations();
// An activation by name (activations(), or linear: the identity); std::invalid_argument else.
Tensor activation(Tensor x, const std::string& kind, GRADC_LOC);
std::string activation_names();  // "relu, tanh, sigmoid, gelu, leaky_relu, elu, softplus, linear"

Tensor operator+(At a, Tensor b);
Tensor operator-(At a, Tensor b);
Tensor operator*(At a, Tensor b);
Tensor operator/(At a, Tensor b);
Tensor operator+(At a, float b);
Tensor operator-(At a, float b);
Tensor operator*(At a, float b);
Tensor operator/(At a, float b);
Tensor operator+(float a, At b);
Tensor operator-(float a, At b);
Tensor operator*(float a, At b);
Tensor operator/(float a, At b);
Tensor operator-(At a);

}  // namespace gradc
