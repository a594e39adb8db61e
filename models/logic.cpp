// The single sigmoid neuron of the logic-gate tutorial: inputs (x1, x2, 1), weights [3,1], no
// separate bias (the constant third input is the bias), sigmoid cross-entropy on the 4 rows.
#include "autodiff/dsl.h"
#include "models/models.h"

namespace gradc {

void build_logic(Model& m, const ModelOptions&) {
  Tensor x = m.g.input("x", {4, 3});
  Tensor t = m.g.input("t", {4, 1});
  Tensor w = m.g.param("neuron/W", {3, 1}, Init::Normal, 0.1f);
  m.logits = matmul(x, w);
  m.loss = sigmoid_xent(m.logits, t);
}

}  // namespace gradc
