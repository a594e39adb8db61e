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

}  // namespace gradc
