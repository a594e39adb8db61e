// The single sigmoid neuron of the logic-gate tutorial: inputs (x1, x2, 1), weights [3,1], no
// separate bias (the constant third input is the bias), sigmoid cross-entropy on the 4 rows.
#include <cmath>
#include <stdexcept>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "models/models.h"
#include "runtime/engine.h"

namespace gradc {

void build_logic(Model& m, const ModelOptions&) {
  Tensor x = m.g.input("x", {4, 3});
  Tensor t = m.g.input("t", {4, 1});
  Tensor w = m.g.param("neuron/W", {3, 1}, Init::Normal, 0.1f);
  m.logits = matmul(x, w);
  m.loss = sigmoid_xent(m.logits, t);
}

}  // namespace gradc

namespace gradc {

LogicResult train_logic(const std::string& gate, float lr, int steps, uint64_t seed, int engine_kind) {
  LogicResult r;
  if (gate == "and")
    r.expected = {0, 0, 0, 1};
  else if (gate == "or")
    r.expected = {0, 1, 1, 1};
  else
    throw std::invalid_argument("gradc: unknown gate '" + gate + "' (use and, or)");
  auto m = build_model("logic", {.batch = 4, .training = true, .seed = seed});
  OptimizerConfig oc;  // plain gradient descent
  TrainStep ts = add_optimizer(m->loss, oc);
  auto e = make_engine(m->g, engine_kind == 0 ? EngineKind::Jit : EngineKind::Reference);
  const float x[12] = {0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1};  // (x1, x2, 1): the constant input is the bias
  std::copy(x, x + 12, e->f32(m->g.find_id("x")).begin());
  auto t = e->f32(m->g.find_id("t"));
  for (int i = 0; i < 4; ++i) t[static_cast<size_t>(i)] = static_cast<float>(r.expected[static_cast<size_t>(i)]);
  e->f32(ts.lr.id)[0] = lr;
  for (int s = 0; s < steps; ++s) e->run();
  // One more forward pass (lr 0 leaves the weights) to read the outputs of the final weights.
  e->f32(ts.lr.id)[0] = 0.f;
  e->run();
  r.final_loss = e->f32(m->loss.id)[0];
  auto w = e->f32(ts.params[0].id);
  r.weights.assign(w.begin(), w.end());
  r.exact = true;
  auto logits = e->f32(m->logits.id);
  for (size_t i = 0; i < 4; ++i) {
    r.outputs.push_back(1.f / (1.f + std::exp(-logits[i])));
    r.exact &= (r.outputs.back() > 0.5f ? 1 : 0) == r.expected[i];
  }
  return r;
}

}  // namespace gradc
