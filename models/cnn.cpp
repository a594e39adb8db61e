// The small Keras CNN: conv F×K×K valid + ReLU, flatten, dense D ReLU, dense 10 (the tutorial's
// F = 28, K = 3, D = 128 are the defaults; --filters, --kernel, --dense change them).
#include "autodiff/dsl.h"
#include "models/models.h"

namespace gradc {

void build_cnn(Model& m, const ModelOptions& o, const Arch& a) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor w = m.g.param("conv/W", {a.kernel, a.kernel, 1, a.filters}, Init::GlorotUniform);
  Tensor b = m.g.param("conv/b", {a.filters}, Init::Zeros);
  Tensor h = relu(conv2d(reshape(x, {o.batch, 28, 28, 1}), w, Padding::Valid) + b);
  h = relu(dense(flatten(h), a.dense, "dense"));
  m.logits = dense(h, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

namespace {
// Keras Conv2D(filters, 3×3, valid, ReLU): glorot_uniform weights, zero bias.
Tensor conv_relu(Model& m, Tensor x, int64_t filters, const std::string& name) {
  Tensor w = m.g.param(name + "/W", {3, 3, x.shape()[3], filters}, Init::GlorotUniform);
  Tensor b = m.g.param(name + "/b", {filters}, Init::Zeros);
  return relu(conv2d(x, w, Padding::Valid) + b);
}
}  // namespace

// Keras's MNIST convnet (keras.io/examples/vision/mnist_convnet): conv 32 3×3 ReLU, max-pool 2,
// conv 64 3×3 ReLU, max-pool 2, flatten, dropout 0.5, dense 10 — 34,826 parameters.
void build_convnet(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor key = m.g.input("dropout_key", Shape::scalar(), DType::I32);
  Tensor h = max_pool2d(conv_relu(m, reshape(x, {o.batch, 28, 28, 1}), 32, "conv1"));
  h = max_pool2d(conv_relu(m, h, 64, "conv2"));
  m.logits = dense(dropout(flatten(h), key, 0.5f, o.training), 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

}  // namespace gradc
