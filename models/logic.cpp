// The single sigmoid neuron of the logic-gate tutorial: inputs (x1, x2, 1), weights [3,1], no
// separate bias (the constant third input is the bias), sigmoid cross-entropy on the 4 rows —
// trained by the same Trainer as every other model (full batch, plain gradient descent).
#include <cmath>
#include <stdexcept>

#include "autodiff/dsl.h"
#include "models/models.h"
#include "models/trainer.h"

namespace gradc {

void build_logic(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 3});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  // The 0/1 class label as the float target column sigmoid_xent takes: one_hot(y)·[0 1]ᵀ.
  Tensor t = matmul(one_hot(y, 2), constant_data(m.g, {2, 1}, {0.f, 1.f}));
  Tensor w = m.g.param("neuron/W", {3, 1}, Init::Normal, 0.1f);
  m.logits = matmul(x, w);
  m.loss = sigmoid_xent(m.logits, t);
}

LogicResult train_logic(const std::string& gate, float lr, int steps, uint64_t seed, int engine_kind) {
  LogicResult r;
  if (gate == "and")
    r.expected = {0, 0, 0, 1};
  else if (gate == "or")
    r.expected = {0, 1, 1, 1};
  else
    throw std::invalid_argument("gradc: unknown gate '" + gate + "' (use and, or)");
  Dataset table;  // (x1, x2, 1): the constant input is the bias
  table.n = 4;
  table.features = 3;
  table.x = {0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1};
  table.y.assign(r.expected.begin(), r.expected.end());
  table.source = gate + " truth table";
  FitConfig fc;  // plain gradient descent on the whole table
  fc.batch = 4;
  fc.steps = steps;
  fc.periods = 1;
  fc.lr = lr;
  fc.seed = seed;
  fc.engine = engine_kind == 0 ? EngineKind::Jit : EngineKind::Reference;
  Trainer t("logic", build_logic, fc);
  t.fit(table);
  const std::vector<float> logits = t.predict(table);
  r.final_loss = static_cast<float>(t.evaluate(table).log_loss());
  for (const NamedTensor& w : t.weights()) r.weights = w.data;
  r.exact = true;
  for (size_t i = 0; i < 4; ++i) {
    r.outputs.push_back(1.f / (1.f + std::exp(-logits[i])));
    r.exact &= (r.outputs.back() > 0.5f ? 1 : 0) == r.expected[i];
  }
  return r;
}

}  // namespace gradc
