// The small Keras CNN: conv 28×3×3 valid + ReLU, flatten, dense 128 ReLU, dense 10.
#include "autodiff/dsl.h"
#include "models/models.h"

namespace gradc {

void build_cnn(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor w = m.g.param("conv/W", {3, 3, 1, 28}, Init::GlorotUniform);
  Tensor b = m.g.param("conv/b", {28}, Init::Zeros);
  Tensor h = relu(conv2d(reshape(x, {o.batch, 28, 28, 1}), w, Padding::Valid) + b);
  h = relu(dense(flatten(h), 128, "dense"));
  m.logits = dense(h, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

}  // namespace gradc
