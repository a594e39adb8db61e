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
// Keras Conv2D(filters, 3×3, valid, ReLU): glorot_uniform weights, zero bias; with `bn` a
// batch_norm of that name between the convolution and the ReLU.
Tensor conv_relu(Model& m, Tensor x, int64_t filters, const std::string& name, const std::string& bn, bool training) {
  Tensor w = m.g.param(name + "/W", {3, 3, x.shape()[3], filters}, Init::GlorotUniform);
  Tensor b = m.g.param(name + "/b", {filters}, Init::Zeros);
  Tensor h = conv2d(x, w, Padding::Valid) + b;
  return relu(bn.empty() ? h : batch_norm(h, bn, training));
}
}  // namespace

// Keras's MNIST convnet (keras.io/examples/vision/mnist_convnet) by default: conv 32 3×3 ReLU,
// max-pool 2, conv 64 3×3 ReLU, max-pool 2, flatten, dropout 0.5, dense 10 — 34,826 parameters.
// --conv sets the convolutions, --pool max|avg the pooling, --batch-norm a batch_norm before each ReLU.
namespace {
// The convolution blocks of the convnet and the speedrun: 3×3 convolution (+ batch norm) + ReLU,
// then 2×2 pooling, per entry of a.conv; flattened.
Tensor conv_blocks(Model& m, Tensor x, const Arch& a, bool training) {
  Tensor h = reshape(x, {x.shape()[0], 28, 28, 1});
  for (size_t i = 0; i < a.conv.size(); ++i) {
    const std::string name = "conv" + std::to_string(i + 1);
    h = conv_relu(m, h, a.conv[i], name, a.batch_norm ? "bn" + std::to_string(i + 1) : "", training);
    h = a.pool == "avg" ? avg_pool2d(h) : max_pool2d(h);
  }
  return flatten(h);
}
}  // namespace

void build_convnet(Model& m, const ModelOptions& o, const Arch& a) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor key = m.g.input("dropout_key", Shape::scalar(), DType::I32);
  m.logits = dense(dropout(conv_blocks(m, x, a, o.training), key, 0.5f, o.training), 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

// The MNIST speedrun's network (`gradc train speedrun`): the convnet's blocks at half the widths and
// no dropout (three epochs do not overfit). Batch norm, wider layers and smaller batches measured
// slower to 99 %: docs/speedrun.md.
void build_speedrun(Model& m, const ModelOptions& o, const Arch& a) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  m.logits = dense(conv_blocks(m, x, a, o.training), 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

}  // namespace gradc
