#include "tests/jit_cases.h"

#include <array>

#include "autodiff/dsl.h"
#include "autodiff/shape_rules.h"

namespace gradc::testing_cases {

namespace {
Tensor f32(Graph& g, const char* name, Shape s) { return g.input(name, s); }
}  // namespace

std::map<Op, std::vector<OpCase>> op_cases() {
  std::map<Op, std::vector<OpCase>> c;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t N : {10, 75, 130})
        c[Op::MatMul].push_back({"ta" + std::to_string(ta) + " tb" + std::to_string(tb) + " N" + std::to_string(N),
                                 [=](Graph& g, int64_t R) {
                                   const int64_t K = 37;
                                   Tensor a = f32(g, "a", ta ? Shape{K, R} : Shape{R, K});
                                   Tensor b = f32(g, "b", tb ? Shape{N, K} : Shape{K, N});
                                   return matmul(a, b, ta, tb);
                                 }});
  c[Op::MatMul].push_back({"K784 N100", [=](Graph& g, int64_t R) {
                             return matmul(f32(g, "a", {R, 784}), f32(g, "b", {784, 100}));
                           }});
  // Split-k partial products: unequal chunks (50 = 3·13 + 11), equal ones, and a long k with a
  // column tail past full vectors.
  for (auto [K, N, splits] : {std::array<int64_t, 3>{50, 16, 4}, {64, 10, 8}, {4100, 33, 2}})
    c[Op::MatMulSplitK].push_back(
        {"K" + std::to_string(K) + " N" + std::to_string(N) + " splits" + std::to_string(splits),
         [=](Graph& g, int64_t R) {
           return matmul_split_k(f32(g, "a", {K, R}), f32(g, "b", {K, N}), splits);
         }});
  // A not transposed (a dense layer over a long input): each chunk reads its columns of A with A's
  // whole row stride; unequal chunks.
  for (auto [K, N, splits] : {std::array<int64_t, 3>{50, 16, 4}, {4100, 33, 2}})
    c[Op::MatMulSplitK].push_back(
        {"A K" + std::to_string(K) + " N" + std::to_string(N) + " splits" + std::to_string(splits),
         [=](Graph& g, int64_t R) {
           return matmul_split_k(f32(g, "a", {R, K}), f32(g, "b", {K, N}), splits, false);
         }});
  using Bin = Tensor (*)(Tensor, Tensor, Loc);
  const std::pair<Op, Bin> bins[] = {
      {Op::Add, add}, {Op::Sub, sub}, {Op::Mul, mul}, {Op::Div, div}, {Op::Maximum, maximum}};
  for (auto [op, f] : bins) {
    c[op].push_back({"same", [f](Graph& g, int64_t R) {
                       return f(f32(g, "a", {R, 13}), f32(g, "b", {R, 13}), Loc::current());
                     }});
    c[op].push_back({"row bcast", [f](Graph& g, int64_t R) {
                       return f(f32(g, "a", {R, 13}), f32(g, "b", {13}), Loc::current());
                     }});
    c[op].push_back({"scalar", [f](Graph& g, int64_t R) {
                       return f(f32(g, "a", {}), f32(g, "b", {R, 3, 5}), Loc::current());
                     }});
    c[op].push_back({"3-D suffix", [f](Graph& g, int64_t R) {
                       return f(f32(g, "a", {R, 3, 5}), f32(g, "b", {3, 5}), Loc::current());
                     }});
  }
  c[Op::ReluGrad].push_back({"[R,13]", [=](Graph& g, int64_t R) {
                               return relu_grad(f32(g, "a", {R, 13}), f32(g, "b", {R, 13}));
                             }});
  using Un = Tensor (*)(Tensor, Loc);
  const std::pair<Op, Un> uns[] = {{Op::Neg, neg},         {Op::Exp, exp},
                                   {Op::Log, log},         {Op::Sqrt, sqrt},
                                   {Op::Square, square},   {Op::Relu, relu},
                                   {Op::Sigmoid, sigmoid}, {Op::Tanh, tanh},
                                   {Op::Softmax, softmax}, {Op::LogSoftmax, log_softmax}};
  for (auto [op, f] : uns) {
    c[op].push_back({"[R,13]", [f](Graph& g, int64_t R) { return f(f32(g, "a", {R, 13}), Loc::current()); }});
    c[op].push_back({"[R,100]", [f](Graph& g, int64_t R) { return f(f32(g, "a", {R, 100}), Loc::current()); }});
  }
  c[Op::LeakyRelu].push_back({"alpha 0.3", [](Graph& g, int64_t R) { return leaky_relu(f32(g, "a", {R, 13})); }});
  c[Op::LeakyRelu].push_back({"alpha 0.01 [R,100]", [](Graph& g, int64_t R) {
                                return leaky_relu(f32(g, "a", {R, 100}), 0.01f);
                              }});
  c[Op::Elu].push_back({"alpha 1", [](Graph& g, int64_t R) { return elu(f32(g, "a", {R, 13})); }});
  c[Op::Elu].push_back({"alpha 0.5, |x| to 8", [](Graph& g, int64_t R) {
                          return elu(f32(g, "a", {R, 100}) * 8.f, 0.5f);
                        }});
  c[Op::Softplus].push_back({"[R,13]", [](Graph& g, int64_t R) { return softplus(f32(g, "a", {R, 13})); }});
  // |x| up to 120: e^x overflows a float past 88, the definition must not.
  c[Op::Softplus].push_back({"|x| to 120", [](Graph& g, int64_t R) {
                               return softplus(f32(g, "a", {R, 100}) * 120.f);
                             }});
  for (bool training : {true, false})
    c[Op::Dropout].push_back({training ? "train" : "eval", [=](Graph& g, int64_t R) {
                                return dropout(f32(g, "a", {R, 131}), g.input("key", {}, DType::I32), 0.2f, training);
                              }});
  // A data-parallel rank's slice: the mask elements after `slice` equal slices.
  c[Op::Dropout].push_back({"train slice 3", [=](Graph& g, int64_t R) {
                              Tensor d = dropout(f32(g, "a", {R, 131}), g.input("key", {}, DType::I32), 0.3f, true);
                              g.node(d.id).a.slice = 3;
                              return d;
                            }});
  // One process: the collective is the scaled copy; three buckets, one of two members, members
  // computed by kernels and read straight from inputs, a bucket fed by the others' results.
  c[Op::AllReduce].push_back({"scale", [=](Graph& g, int64_t R) { return allreduce(f32(g, "a", {R, 13}), 0.5f, 0); }});
  c[Op::AllReduce].push_back({"buckets", [=](Graph& g, int64_t R) {
                                Tensor a = f32(g, "a", {R, 13}), b = f32(g, "b", {R, 13});
                                Tensor x = allreduce(a * 2.f, 0.5f, 0), y = allreduce(b, 0.25f, 0);
                                return allreduce(x + y + allreduce(exp(a), 1.f, 1), 0.5f, 2);
                              }});
  for (Op op : {Op::Sum, Op::Mean}) {
    const bool m = op == Op::Mean;
    for (int axis : {-1, 0, 1})
      c[op].push_back({"axis" + std::to_string(axis), [=](Graph& g, int64_t R) {
                         Tensor x = f32(g, "a", {R, 13});
                         return m ? mean(x, axis) : sum(x, axis);
                       }});
    // Column sums held in registers: groups of four vectors, one to three left, a tail; at 128
    // rows the 130 columns are split between two threads.
    for (int64_t cols : {40, 130})
      c[op].push_back({"axis0 " + std::to_string(cols) + " columns", [=](Graph& g, int64_t R) {
                         Tensor x = f32(g, "a", {R, cols});
                         return m ? mean(x, 0) : sum(x, 0);
                       }});
    // The same with the producer chain computed in vectors inside the sum (batch norm's variance:
    // rows minus a per-column mean, squared; a scalar factor; exp).
    c[op].push_back({"axis0 fused chain", [=](Graph& g, int64_t R) {
                       Tensor x = f32(g, "a", {R, 130}), mu = f32(g, "b", {130});
                       Tensor y = square(x - mu) * 0.5f + exp(x);
                       return m ? mean(y, 0) : sum(y, 0);
                     }});
    c[op].push_back({"3-D axis1", [=](Graph& g, int64_t R) {
                       Tensor x = f32(g, "a", {R, 7, 5});
                       return m ? mean(x, 1) : sum(x, 1);
                     }});
  }
  c[Op::Broadcast].push_back({"axis0", [=](Graph& g, int64_t R) { return broadcast(f32(g, "a", {13}), {R, 13}, 0); }});
  c[Op::Broadcast].push_back({"axis1", [=](Graph& g, int64_t R) { return broadcast(f32(g, "a", {R}), {R, 13}, 1); }});
  c[Op::Broadcast].push_back({"scalar", [=](Graph& g, int64_t R) { return broadcast(f32(g, "a", {}), {R, 13}, -1); }});
  c[Op::Reshape].push_back({"[R,12]->[R,3,4]", [=](Graph& g, int64_t R) {
                              return reshape(f32(g, "a", {R, 12}), {R, 3, 4});
                            }});
  c[Op::Transpose].push_back({"[R,13]", [=](Graph& g, int64_t R) { return transpose(f32(g, "a", {R, 13})); }});
  c[Op::OneHot].push_back(
      {"depth 10", [=](Graph& g, int64_t R) { return one_hot(g.input("y", {R}, DType::I32), 10); }});
  // Rows of ≤ 16 classes take the one-zmm path, longer rows the loops (codegen_rows.cpp).
  for (int64_t C : {10, 16, 37})
    c[Op::SoftmaxXent].push_back({"[R," + std::to_string(C) + "]", [=](Graph& g, int64_t R) {
                                    return softmax_xent(f32(g, "a", {R, C}), g.input("y", {R}, DType::I32));
                                  }});
  c[Op::SigmoidXent].push_back({"[R,13]", [=](Graph& g, int64_t R) {
                                  return sigmoid_xent(f32(g, "a", {R, 13}), f32(g, "b", {R, 13}));
                                }});
  // Convolutions: valid and same, stride 1 and 2×1 (same padding with strides pads as TensorFlow).
  for (Padding p : {Padding::Valid, Padding::Same})
    for (const Shape& st : {Shape{}, Shape{2, 1}}) {
      const std::string pn = std::string(p == Padding::Valid ? "valid" : "same") + (st.rank ? " stride 2x1" : "");
      auto xs = [](int64_t R) { return Shape{std::min<int64_t>(R, 3), 9, 7, 3}; };
      const Shape ws{3, 3, 3, 5};
      auto ys = [=](int64_t R) {
        Attrs a;
        a.pad = p, a.strides = st;
        return conv_out_shape(xs(R), ws, a);
      };
      c[Op::Conv2d].push_back(
          {pn, [=](Graph& g, int64_t R) { return conv2d(f32(g, "a", xs(R)), f32(g, "b", ws), p, st); }});
      c[Op::Conv2dGradInput].push_back({pn, [=](Graph& g, int64_t R) {
                                          return conv2d_grad_input(f32(g, "a", ys(R)), f32(g, "b", ws), xs(R), p, st);
                                        }});
      c[Op::Conv2dGradFilter].push_back({pn, [=](Graph& g, int64_t R) {
                                           return conv2d_grad_filter(f32(g, "a", xs(R)), f32(g, "b", ys(R)), ws, p, st);
                                         }});
    }
  // Pooling: Keras' 2×2/2 (on an odd input and on one it tiles), an overlapping 3×3/2 with same
  // padding (windows clipped at the edges, so average counts differ), a 2×3 window with strides 1×2,
  // disjoint 3×3/3 windows padded before
  // (max_pool2d_grad scatters from output rows when windows are disjoint, else gathers). Gradients
  // with dy of the output's shape.
  struct PoolCfg {
    std::string name;
    Shape window, strides;
    Padding pad;
    Shape hw = {9, 7};  // the input's height and width
  };
  // Channels: 5 (one masked vector), 33 (full vectors and a one-lane tail on both targets).
  for (const PoolCfg& pc0 :
       {PoolCfg{"2x2/2 valid", {2, 2}, {2, 2}, Padding::Valid}, PoolCfg{"3x3/2 same", {3, 3}, {2, 2}, Padding::Same},
        PoolCfg{"2x3/1x2 same", {2, 3}, {1, 2}, Padding::Same}, PoolCfg{"3x3/3 same", {3, 3}, {3, 3}, Padding::Same},
        // windows that tile the input (max_pool2d_grad then zeroes nothing first)
        PoolCfg{"2x2/2 valid 8x6", {2, 2}, {2, 2}, Padding::Valid, {8, 6}}})
    for (int64_t C : {5, 33}) {
      PoolCfg pc = pc0;
      if (C != 5) pc.name += " C" + std::to_string(C);
      auto xs = [C, hw = pc.hw](int64_t R) { return Shape{std::min<int64_t>(R, 3), hw[0], hw[1], C}; };
      auto forward = [=](Op op, Graph& g, int64_t R) {
        Tensor x = f32(g, "a", xs(R));
        return op == Op::MaxPool2d ? max_pool2d(x, pc.window, pc.strides, pc.pad)
                                   : avg_pool2d(x, pc.window, pc.strides, pc.pad);
      };
      for (Op op : {Op::MaxPool2d, Op::AvgPool2d}) {
        c[op].push_back({pc.name, [=](Graph& g, int64_t R) { return forward(op, g, R); }});
        const Op grad_op = op == Op::MaxPool2d ? Op::MaxPool2dGrad : Op::AvgPool2dGrad;
        c[grad_op].push_back({pc.name, [=](Graph& g, int64_t R) {
                                Graph shapes;  // the output's shape, from the forward op
                                const Shape ys = forward(op, shapes, R).shape();
                                Attrs a = shapes.node(static_cast<int>(shapes.size()) - 1).a;
                                a.shape = xs(R);
                                Tensor x = op == Op::MaxPool2d ? f32(g, "a", xs(R)) : Tensor{};
                                return pool2d_grad(grad_op, x, f32(g, "b", ys), a);
                              }});
      }
    }
  // im2col / col2im (the conv-gemm pass's): 3×3 valid and same as convolutions use them, and a
  // strided 2×2/2 window.
  // Channels 1 (a first layer's image), 5 and 33 as for pooling.
  for (const PoolCfg& pc0 :
       {PoolCfg{"3x3 valid", {3, 3}, {1, 1}, Padding::Valid}, PoolCfg{"3x3 same", {3, 3}, {1, 1}, Padding::Same},
        PoolCfg{"2x2/2 same", {2, 2}, {2, 2}, Padding::Same}})
    for (int64_t C : {1, 5, 33}) {
      PoolCfg pc = pc0;
      if (C != 5) pc.name += " C" + std::to_string(C);
      Attrs a;
      a.window = pc.window, a.strides = pc.strides, a.pad = pc.pad;
      auto xs = [C, hw = pc.hw](int64_t R) { return Shape{std::min<int64_t>(R, 3), hw[0], hw[1], C}; };
      c[Op::Im2Col].push_back({pc.name, [=](Graph& g, int64_t R) { return im2col(f32(g, "a", xs(R)), a); }});
      c[Op::Col2Im].push_back({pc.name, [=](Graph& g, int64_t R) {
                                 Graph shapes;
                                 const Shape cols = im2col(shapes.input("x", xs(R)), a).shape();
                                 Attrs back = a;
                                 back.shape = xs(R);
                                 return col2im(f32(g, "a", cols), back);
                               }});
    }
  // Fused ops (made by the compiler's passes; built directly here).
  for (bool relu : {false, true})
    for (bool tb : {false, true})
      for (int64_t N : {10, 100})
        c[Op::Dense].push_back({"relu" + std::to_string(relu) + " tb" + std::to_string(tb) + " N" + std::to_string(N),
                                [=](Graph& g, int64_t R) {
                                  Attrs a;
                                  a.relu = relu;
                                  a.tb = tb;
                                  Tensor x = f32(g, "a", {R, 37});
                                  Tensor w = f32(g, "b", tb ? Shape{N, 37} : Shape{37, N});
                                  Tensor bias = f32(g, "bias", {N});
                                  return g.add(Op::Dense, {x.id, w.id, bias.id}, a);
                                }});
  for (int mask : {1, 2})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        c[Op::MatMulMask].push_back(
            {"mask" + std::to_string(mask) + " ta" + std::to_string(ta) + " tb" + std::to_string(tb),
             [=](Graph& g, int64_t R) {
               Attrs a;
               a.mask = mask;
               a.ta = ta;
               a.tb = tb;
               const int64_t K = 29, N = 70;
               Shape as = ta ? Shape{K, R} : Shape{R, K}, bs = tb ? Shape{N, K} : Shape{K, N};
               Tensor x = f32(g, "a", as), w = f32(g, "b", bs);
               Tensor m = f32(g, "m", mask == 1 ? as : bs);
               return g.add(Op::MatMulMask, {x.id, w.id, m.id}, a);
             }});
  // matmul_update over one K block, over two with the partial sums in scratch (B read in place; B
  // rows a page apart, packed), with A as is or transposed (a weight gradient Xᵀ·dY).
  for (bool ta : {false, true})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{29, 70}, {2000, 70}, {500, 1024}})
      c[Op::MatMulUpdate].push_back(
          {"ta" + std::to_string(ta) + " K" + std::to_string(K) + " N" + std::to_string(N), [=](Graph& g, int64_t R) {
             Attrs a;
             a.ta = ta;
             Tensor x = f32(g, "a", ta ? Shape{K, R} : Shape{R, K}), w = f32(g, "b", {K, N});
             Tensor p = f32(g, "p", {R, N}), lr = f32(g, "lr", {});
             return g.add(Op::MatMulUpdate, {x.id, w.id, p.id, lr.id}, a);
           }});
  for (int64_t C : {10, 16, 37})
    c[Op::SoftmaxXentGrad].push_back({"[R," + std::to_string(C) + "]", [=](Graph& g, int64_t R) {
                                        Tensor x = f32(g, "a", {R, C});
                                        Tensor y = g.input("y", {R}, DType::I32);
                                        Tensor s = f32(g, "s", {});
                                        return g.add(Op::SoftmaxXentGrad, {x.id, y.id, s.id}, {});
                                      }});
  return c;
}

}  // namespace gradc::testing_cases
