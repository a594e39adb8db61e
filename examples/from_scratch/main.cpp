// gradc from scratch: a graph in the DSL, its gradient graph, SGD updates appended to it, the whole
// step JIT-compiled into one Program, and a hand-written training loop — for users who want full
// control. The task: 4 classes of 16-dimensional points, labelled by the largest of 4 fixed random
// projections (learnable, not linearly trivial for a small net).
#include <autodiff/autodiff.h>
#include <autodiff/dsl.h>
#include <runtime/program.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace gradc;

struct Data {
  std::vector<float> x;
  std::vector<int32_t> y;
};

Data make_data(int n, std::mt19937& rng, const std::vector<float>& proj) {
  std::normal_distribution<float> normal;
  Data d;
  for (int i = 0; i < n; ++i) {
    int best = 0;
    float best_v = -1e30f;
    std::vector<float> p(16);
    for (float& v : p) v = normal(rng);
    for (int c = 0; c < 4; ++c) {
      float v = 0;
      for (int k = 0; k < 16; ++k) v += proj[static_cast<size_t>(c * 16 + k)] * p[static_cast<size_t>(k)];
      if (v > best_v) best_v = v, best = c;
    }
    d.x.insert(d.x.end(), p.begin(), p.end());
    d.y.push_back(best);
  }
  return d;
}

// The network; the same function builds the training graph and the evaluation graph.
Tensor model(Graph& g, int64_t batch) {
  Tensor x = g.input("x", {batch, 16});
  Tensor h = tanh(dense(x, 32, "hidden"));
  return dense(h, 4, "out");
}

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 300;
  constexpr int64_t B = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> proj(64);
  for (float& v : proj) v = normal(rng);
  const Data train = make_data(4096, rng, proj), test = make_data(1024, rng, proj);

  // The model and its training step, as one graph.
  Graph g;
  Tensor y = g.input("y", {B}, DType::I32);
  Tensor loss = softmax_xent(model(g, B), y);
  g.mark_output(loss, "loss");  // read after each step (unmarked nodes may be fused away)
  std::vector<Tensor> params = g.params();
  std::vector<Tensor> grads = grad(loss, params);
  for (size_t i = 0; i < params.size(); ++i) g.assign(params[i], params[i] - grads[i] * 0.2f);
  Program step(g);  // passes + schedule + LLVM JIT for this CPU

  // The loop: feed a batch, run the step (forward, backward, update), read the loss.
  for (int s = 0; s < steps; ++s) {
    const int64_t start = (s * B) % (4096 - B);
    step.set_input("x", std::span<const float>(train.x.data() + start * 16, B * 16));
    step.set_input_i32("y", std::span<const int32_t>(train.y.data() + start, B));
    step.run();
    if (s % 100 == 0) std::printf("step %d: loss %.4f\n", s, static_cast<double>(step.get(loss.id)[0]));
  }

  // Held-out accuracy: an inference graph of the same network over the whole test set, its
  // parameters copied from the trained program by name.
  Graph ev;
  Tensor logits = model(ev, 1024);
  ev.mark_output(logits, "logits");
  Program infer(ev);
  for (Tensor p : ev.params()) {
    const int src = g.find_id(p.node().name);
    std::copy(step.data(src), step.data(src) + step.numel(src), infer.data(p.id));
  }
  infer.set_input("x", test.x);
  infer.run();
  const std::vector<float> out = infer.get(logits.id);
  int correct = 0, seen = 0;
  for (size_t r = 0; r < test.y.size(); ++r, ++seen) {
    int arg = 0;
    for (int c = 1; c < 4; ++c)
      if (out[r * 4 + static_cast<size_t>(c)] > out[r * 4 + static_cast<size_t>(arg)]) arg = c;
    correct += arg == test.y[r];
  }
  std::printf("test accuracy %.3f on %d points\n", static_cast<double>(correct) / seen, seen);
  return correct * 10 > seen * 7 ? 0 : 1;  // the example is also a test: it must learn
}
