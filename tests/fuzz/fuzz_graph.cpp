// libFuzzer target: the DSL's shape inference and autodiff fed random graphs. Each input byte
// picks an op and operands; random shapes and attributes must either build or raise GraphError,
// and every scalar loss that builds must differentiate (or raise GraphError) and print as DOT.
#include <cstdint>
#include <vector>

#include "autodiff/autodiff.h"
#include "autodiff/dot.h"
#include "autodiff/dsl.h"

using namespace gradc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  auto next = [&]() -> unsigned { return pos < size ? data[pos++] : 0u; };
  Graph g;
  std::vector<Tensor> pool;
  auto shape = [&]() {
    Shape s;
    const int rank = static_cast<int>(next() % 5);
    for (int i = 0; i < rank; ++i) s.d[static_cast<size_t>(s.rank++)] = 1 + next() % 6;
    return s;
  };
  pool.push_back(g.input("a", shape()));
  pool.push_back(g.input("b", shape()));
  pool.push_back(g.input("y", {1 + next() % 6}, DType::I32));
  pool.push_back(g.param("w", shape().rank ? shape() : Shape{2, 2}, Init::Zeros));
  auto pick = [&]() { return pool[next() % pool.size()]; };
  while (pos < size && pool.size() < 64) {
    const unsigned op = next() % 20;
    try {
      Tensor x = pick(), y = pick();
      Tensor r;
      switch (op) {
        case 0:
          r = matmul(x, y, next() & 1, next() & 1);
          break;
        case 1:
          r = x + y;
          break;
        case 2:
          r = x * y;
          break;
        case 3:
          r = x / y;
          break;
        case 4:
          r = relu(x);
          break;
        case 5:
          r = sum(x, static_cast<int>(next() % 6) - 1);
          break;
        case 6:
          r = mean(x, static_cast<int>(next() % 6) - 1);
          break;
        case 7:
          r = reshape(x, shape());
          break;
        case 8:
          r = transpose(x);
          break;
        case 9:
          r = softmax(x);
          break;
        case 10:
          r = log_softmax(x);
          break;
        case 11:
          r = one_hot(x, static_cast<int64_t>(next() % 12) - 1);
          break;
        case 12:
          r = softmax_xent(x, y);
          break;
        case 13:
          r = sigmoid_xent(x, y);
          break;
        case 14:
          r = conv2d(x, y, next() & 1 ? Padding::Same : Padding::Valid);
          break;
        case 15:
          r = dropout(x, y, static_cast<float>(next()) / 128.f);
          break;
        case 16:
          r = broadcast(x, shape(), static_cast<int>(next() % 6) - 1);
          break;
        case 17:
          r = maximum(x, y);
          break;
        case 18:
          r = flatten(x);
          break;
        default:
          r = tanh(exp(x));
          break;
      }
      pool.push_back(r);
      if (r.shape().numel() == 1 && r.dtype() == DType::F32) grad(r, g.params());
    } catch (const GraphError&) {
    }
  }
  if (to_dot(g).empty()) __builtin_trap();
  return 0;
}
