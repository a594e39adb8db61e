// JIT == reference interpreter for every op of the table over several shapes, whole training steps,
// thread-count bit-identity and the compile cache.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "autodiff/shape_rules.h"
#include "compiler/plan.h"
#include "models/models.h"
#include "runtime/dataset.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/program.h"
#include "tests/jit_cases.h"
#include "tests/targets.h"

namespace gradc {
namespace {
using testing_targets::ScopedTarget;

// Fills every input of g identically in both engines: f32 in [-1,1] (positive for ops with a
// restricted domain), i32 labels in [0,10), dropout keys = 5.
void feed(const Graph& g, Interpreter& ip, Program& jit, bool positive, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  for (const Node& n : g.nodes()) {
    if (n.op != Op::Input) continue;
    const auto count = static_cast<size_t>(n.shape.numel());
    if (n.dtype == DType::I32) {
      std::vector<int32_t> v(count);
      for (auto& x : v) x = n.name == "key" ? 5 : static_cast<int32_t>(rng() % 10);
      ip.set_input_i32(n.name, v);
      jit.set_input_i32(n.name, v);
    } else {
      std::uniform_real_distribution<float> u(positive ? 0.5f : -1.f, positive ? 2.f : 1.f);
      std::vector<float> v(count);
      for (auto& x : v) x = u(rng);
      ip.set_input(n.name, v);
      jit.set_input(n.name, v);
    }
  }
}

void expect_close(const std::vector<float>& ref, const std::vector<float>& got, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < ref.size() && bad < 5; ++i)
    if (!(std::fabs(static_cast<double>(ref[i]) - got[i]) <= atol + rtol * std::fabs(ref[i]))) {
      ADD_FAILURE() << what << " [" << i << "]: reference " << ref[i] << " jit " << got[i];
      ++bad;
    }
}

TEST(Jit, EveryOpInTheTableHasALoweringAndACase) {
  const auto cases = testing_cases::op_cases();
  for (const OpInfo& i : op_table()) {
    EXPECT_TRUE(has_lowering(i.op)) << "op '" << i.name << "' has no JIT code path";
    if (i.kind != OpKind::Source) EXPECT_TRUE(cases.count(i.op)) << "op '" << i.name << "' has no JIT test case";
  }
}

class JitOp : public ::testing::TestWithParam<std::tuple<Op, std::string>> {};

// Tolerance: |jit - ref| <= 1e-4 + 1e-4·|ref|. The reference accumulates in double, the JIT in
// float with FMA (and libm vs LLVM exp/log), so exact equality is not expected.
TEST_P(JitOp, MatchesReferenceOverShapes) {
  static const auto cases = testing_cases::op_cases();
  const Op op = std::get<0>(GetParam());
  ScopedTarget target(std::get<1>(GetParam()));
  if (!target.runnable()) GTEST_SKIP() << target.why();
  const bool positive = op == Op::Log || op == Op::Sqrt || op == Op::Div;
  for (const auto& cs : cases.at(op))
    for (int64_t rows : {1, 7, 30, 128}) {
      const std::string what = std::string(op_name(op)) + " " + cs.label + " rows=" + std::to_string(rows);
      Graph g;
      Tensor out = cs.build(g, rows);
      ASSERT_EQ(out.node().op, op) << what;
      g.mark_output(out, "out");
      Interpreter ip(g);
      Program jit(g);
      feed(g, ip, jit, positive);
      ip.run();
      for (int threads : {1, 2}) {
        jit.set_threads(threads);
        jit.poison_computed();  // an element the kernel does not write stays NaN
        jit.run();
        expect_close(ip.value(out.id).f, jit.get(out.id), 1e-4, 1e-4, what + " threads=" + std::to_string(threads));
      }
    }
}

std::vector<Op> compute_ops() {
  std::vector<Op> ops;
  for (const OpInfo& i : op_table())
    if (i.kind != OpKind::Source) ops.push_back(i.op);
  return ops;
}
INSTANTIATE_TEST_SUITE_P(EveryOp, JitOp,
                         ::testing::Combine(::testing::ValuesIn(compute_ops()),
                                            ::testing::ValuesIn(testing_targets::names())),
                         [](const ::testing::TestParamInfo<std::tuple<Op, std::string>>& p) {
                           return std::string(op_name(std::get<0>(p.param))) + "_" +
                                  testing_targets::ident(std::get<1>(p.param));
                         });

class JitTarget : public ::testing::TestWithParam<std::string> {};

// Every output of g from `jit` against the reference interpreter on the same inputs, at 1 and 2
// threads (|jit - ref| <= 1e-4 + 1e-4·|ref|), and the two thread counts equal bit for bit.
void expect_outputs_match_reference(const Graph& g, Program& jit, const std::string& what) {
  Interpreter ip(g);
  feed(g, ip, jit, false);
  ip.run();
  for (int out : g.outputs()) {
    std::vector<float> runs[2];
    for (int threads : {1, 2}) {
      jit.set_threads(threads);
      jit.poison_computed();
      jit.run();
      runs[threads - 1] = jit.get(out);
      expect_close(ip.value(out).f, runs[threads - 1], 1e-4, 1e-4,
                   what + " " + g.node(out).name + " threads=" + std::to_string(threads));
    }
    EXPECT_EQ(0, std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4)) << what << " " << g.node(out).name;
  }
}

// The cache-blocked GEMM paths (schedule.h GemmSpec) need shapes beyond the op cases above: K
// split into blocks with partial sums through C (unpacked, M < kGemmPackMinRows), and packed B
// panels (several column panels + a narrower last one, two K blocks, a row tail) with every
// epilogue and mask. Each is checked against the reference at 1 and 2 threads, and 1 == 2 threads
// bit for bit.
TEST_P(JitTarget, CacheBlockedGemmsMatchTheReference) {
  Target fixed = make_target(GetParam());
  fixed.l2_bytes = 1 << 20;  // the shapes below are chosen for 512 KiB blocks, whatever the host's L2
  ScopedTarget target(fixed);
  if (!target.runnable()) GTEST_SKIP() << target.why();
  enum Blocking { KBlocks, Packed, Panels };  // unpacked K blocks, packed B, unpacked column panels
  struct Case {
    const char* what;
    int64_t M, K, N;
    bool ta;
    int kind;  // 0 matmul, 1 dense + bias + ReLU, 2 matmul_relu_mask on B, 3 on A
    Blocking blocking;
  };
  const Case cases[] = {{"K-blocked (3 blocks)", 40, 2000, 150, false, 0, KBlocks},
                        {"K-blocked dense", 40, 2000, 150, false, 1, KBlocks},
                        {"packed", 260, 400, 700, false, 0, Packed},
                        {"packed Aᵀ", 260, 400, 700, true, 0, Packed},
                        {"packed dense", 260, 400, 700, false, 1, Packed},
                        {"packed mask on B", 260, 400, 700, false, 2, Packed},
                        {"packed mask on Aᵀ", 260, 400, 700, true, 3, Packed},
                        {"K-blocked mask on A", 40, 2000, 150, false, 3, KBlocks},
                        // 64×288: 8-row × 48-column tiles on AVX-512 (no row or column tail)
                        {"K-blocked 8x48 tiles, dense", 64, 2000, 288, false, 1, KBlocks},
                        {"K-blocked 8x48 tiles, Aᵀ", 64, 2000, 288, true, 0, KBlocks},
                        // B rows a page apart: packed with few rows (several panels, a row tail)
                        {"few rows, B rows a page apart", 40, 500, 1100, false, 1, Packed},
                        // few rows, a C too big to pass once per K block: whole-K column panels
                        {"column panels", 20, 100, 16000, false, 0, Panels}};
  for (const Case& c : cases) {
    Graph g;
    Tensor a = g.input("a", c.ta ? Shape{c.K, c.M} : Shape{c.M, c.K}), b = g.input("b", {c.K, c.N});
    Attrs at;
    at.ta = c.ta;
    Tensor out;
    if (c.kind == 0) {
      out = matmul(a, b, c.ta);
    } else if (c.kind == 1) {
      at.relu = true;
      out = g.add(Op::Dense, {a.id, b.id, g.input("bias", {c.N}).id}, at);
    } else {
      at.mask = c.kind == 2 ? 2 : 1;
      const Shape ms = c.kind == 2 ? b.shape() : a.shape();
      out = g.add(Op::MatMulMask, {a.id, b.id, g.input("m", ms).id}, at);
    }
    g.mark_output(out, "out");
    const GemmSpec blk = schedule_gemm(g, out.node(), default_target());
    ASSERT_EQ(blk.pack, c.blocking == Packed) << c.what;
    if (c.N == 288 && default_target().lanes == 16) ASSERT_EQ(blk.tile_cols, 48) << c.what;
    if (c.blocking != Panels) ASSERT_LT(blk.kc, c.K) << c.what << ": the case must exercise K blocking";
    if (c.blocking != KBlocks) ASSERT_GT(c.N, blk.nc) << c.what << ": the case must exercise several column panels";
    Program jit(g);
    expect_outputs_match_reference(g, jit, c.what);
  }
}

// A windowed case of the convolution tests below: channels, window, strides, padding.
struct WindowCase {
  const char* what;
  int64_t C;
  Shape window, strides;
  Padding pad;
};

// Implicit GEMM: an im2col read only by GEMMs as their A rows (forward: cols·W, and dense with bias
// + ReLU), as Aᵀ (filter gradient colsᵀ·dY) or as B (filter gradient dYᵀ·cols), whole and split over
// k, is never materialised; each GEMM reads x through the window. Windows inside x and in the padding, strides, channel
// runs that fill whole vectors (one load) and that do not (a gather), a tap count that is not a multiple of the panel;
// against the reference at 1 and 2 threads, and 1 == 2 threads bit for bit. Inputs 11 and 29
// wide: a register tile's rows within one output row or across the end of one (windows_from).
TEST_P(JitTarget, ImplicitGemmReadsTheConvolutionInputInPlace) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  const WindowCase cases[] = {{"3x3 valid C32", 32, {3, 3}, {1, 1}, Padding::Valid},
                              {"3x3 same C16", 16, {3, 3}, {1, 1}, Padding::Same},
                              {"3x3/2 same C3", 3, {3, 3}, {2, 2}, Padding::Same},
                              {"2x2/2 same C5", 5, {2, 2}, {2, 2}, Padding::Same}};
  for (const WindowCase& c : cases)
    for (int64_t W : {11, 29}) {
      const std::string what = std::string(c.what) + " W" + std::to_string(W);
      Graph g;
      Attrs a;
      a.window = c.window, a.strides = c.strides, a.pad = c.pad;
      Tensor cols = im2col(g.input("x", {4, 13, W, c.C}), a);
      const int64_t P = cols.shape()[0], T = cols.shape()[1], F = 40;
      Tensor dy = g.input("dy", {P, F});
      Attrs dense_a;
      dense_a.relu = true;
      g.mark_output(matmul(cols, g.input("w", {T, F})), "forward");
      g.mark_output(g.add(Op::Dense, {cols.id, g.input("w2", {T, F}).id, g.input("bias", {F}).id}, dense_a), "dense");
      g.mark_output(matmul(dy, cols, true), "filter gradient");
      g.mark_output(matmul_split_k(dy, cols, 2), "filter gradient split");
      // A first layer's form: colsᵀ·dY, the positions along k.
      g.mark_output(matmul(cols, dy, true), "filter gradient colsT");
      g.mark_output(matmul_split_k(cols, dy, 2), "filter gradient colsT split");
      CompileOptions o;
      o.passes = {"cse"};  // the GEMMs as written
      Program jit(g, o);
      for (const KernelInfo& k : jit.code().plan.kernels)
        ASSERT_NE(jit.code().graph.node(k.node).op, Op::Im2Col) << what << ": im2col was materialised";
      expect_outputs_match_reference(g, jit, what);
    }
}

// The plan's pooled producers: an elementwise activation read only by pooling kernels (batch
// norm's relu(x·scale + shift) under a max-pool) is recomputed where each pool reads it, never
// written. Max-pool forward and gradient with disjoint 2×2/2 windows (the gradient scattering) and
// overlapping 3×3/2 same ones (gathering), average pooling, channels in whole vectors and not;
// against the reference at 1 and 2 threads, 1 == 2 threads bit for bit.
TEST_P(JitTarget, PoolsRecomputeTheirElementwiseInput) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (int64_t C : {32, 33}) {
    const std::string what = "C" + std::to_string(C);
    Graph g;
    Tensor a = relu(g.input("x", {3, 9, 11, C}) * g.input("s", {C}) + g.input("t", {C}));
    auto with_grad = [&](Tensor y, const char* name) {
      g.mark_output(y, name);
      Attrs pa = g.node(y.id).a;
      pa.shape = a.shape();
      g.mark_output(pool2d_grad(Op::MaxPool2dGrad, a, g.input(std::string("dy ") + name, y.shape()), pa),
                    std::string("grad ") + name);
    };
    with_grad(max_pool2d(a, {2, 2}, {2, 2}), "max 2x2/2");
    with_grad(max_pool2d(a, {3, 3}, {2, 2}, Padding::Same), "max 3x3/2 same");
    g.mark_output(avg_pool2d(a, {3, 3}, {1, 1}, Padding::Same), "avg 3x3 same");
    Program jit(g);
    for (const KernelInfo& k : jit.code().plan.kernels)
      EXPECT_NE(jit.code().graph.node(k.node).op, Op::Relu) << what << ": the activation was written";
    expect_outputs_match_reference(g, jit, what);
  }
}

// split-rows: a column sum or mean of a tall [R, C] runs as sums of fixed chunks of rows, then of
// the chunks' partial sums. Plain, through a view ([8, 66, 10, 33] summed per channel as a bias
// gradient is), with a fused elementwise producer (batch norm's square(x - mean)), a C that is not
// whole vectors, and a row count that allows fewer chunks; against the reference at 1 and 2
// threads, 1 == 2 threads bit for bit.
TEST_P(JitTarget, TallColumnSumsRunInChunksOfRows) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  Graph g;
  Tensor x = g.input("x", {8, 66, 10, 33});
  Tensor rows = reshape(x, {5280, 33});
  Tensor mu = mean(rows, 0);
  g.mark_output(mu, "mean");
  g.mark_output(mean(square(rows - mu), 0), "variance");
  g.mark_output(sum(g.input("y", {4096, 64}), 0), "sum");
  g.mark_output(sum(g.input("z", {1100, 130}) * 0.5f, 0), "sum of a product, 1100 rows");
  Program jit(g);
  int chunked = 0;
  for (const KernelInfo& k : jit.code().plan.kernels) {
    const Node& n = jit.code().graph.node(k.node);
    chunked += (n.op == Op::Sum || n.op == Op::Mean) && n.a.axis == 1;
  }
  EXPECT_EQ(chunked, 4) << "every tall column sum in chunks of rows";
  expect_outputs_match_reference(g, jit, "split-rows");
}

// An input gradient lowered to col2im(dY·W2ᵀ) adds each finished GEMM tile into dX (the plan's
// col2im fusion): the columns are never written. Valid and same padding, strides, an even window
// whose last windows reach past the input (no padding before it), channel runs of 1 and 2 vectors,
// and channels that are not whole vectors (col2im stays a kernel of its own), inputs 11 and 29 wide
// (a tile's rows within one output row or across the end of one); against the direct reference at
// 1 and 2 threads, 1 == 2 threads bit for bit.
TEST_P(JitTarget, Col2ImRunsInTheInputGradientsGemmEpilogue) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  const WindowCase cases[] = {
      {"3x3 valid C32", 32, {3, 3}, {1, 1}, Padding::Valid}, {"3x3 same C16", 16, {3, 3}, {1, 1}, Padding::Same},
      {"3x3/2 same C16", 16, {3, 3}, {2, 2}, Padding::Same}, {"2x2 same C16", 16, {2, 2}, {1, 1}, Padding::Same},
      {"3x3 valid C8", 8, {3, 3}, {1, 1}, Padding::Valid},   {"3x3 valid C5", 5, {3, 3}, {1, 1}, Padding::Valid}};
  for (const WindowCase& c : cases)
    for (int64_t W : {11, 29}) {
      const std::string what = std::string(c.what) + " W" + std::to_string(W);
      Graph g;
      // 40 images: stride-1 cases run in several groups of images (split across the threads).
      const Shape xs{40, 13, W, c.C}, ws{c.window[0], c.window[1], c.C, 40};
      Attrs a;
      a.pad = c.pad, a.strides = c.strides;
      Tensor dx = conv2d_grad_input(g.input("dy", conv_out_shape(xs, ws, a)), g.input("w", ws), xs, c.pad, c.strides);
      g.mark_output(dx, "dx");
      Program jit(g);
      const bool fits = c.C % default_target().lanes == 0;
      int col2im_gemms = 0, matmuls = 0;
      for (const KernelInfo& k : jit.code().plan.kernels) {
        const Op op = jit.code().graph.node(k.node).op;
        col2im_gemms += op == Op::Col2Im && k.spec.gemm.col2im_images > 0 && k.range >= (c.strides[0] == 1 ? 2 : 1);
        matmuls += op == Op::MatMul;
      }
      EXPECT_EQ(col2im_gemms, fits ? 1 : 0) << what;
      EXPECT_EQ(matmuls, fits ? 0 : 1) << what << ": the columns' GEMM";
      expect_outputs_match_reference(g, jit, what);
    }
}

// C = A·Bᵀ with many rows, or with fewer and k in one packed block, runs as A·transpose(B)
// (gemm-layout); the plan lets the GEMM read Bᵀ while packing B (register transposes), so no
// transpose kernel is left: k in whole vectors, one and several K blocks, a k tail (the last
// vector of k loaded masked: dnn b30's 30×100×100 input gradient, an odd k of 37), column parts on
// two cores (N = 784), a column tail, a dense epilogue; against the reference, 1 == 2 threads.
TEST_P(JitTarget, TransposedBIsPackedWithoutATransposeKernel) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (auto [M, K, N] :
       {std::array<int64_t, 3>{100, 128, 200}, {70, 768, 90}, {30, 100, 100}, {20, 37, 50}, {30, 100, 784}}) {
    const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
    Graph g;
    Tensor a = g.input("a", {M, K}), b = g.input("b", {N, K});
    Attrs relu_tb;
    relu_tb.tb = relu_tb.relu = true;
    g.mark_output(matmul(a, b, false, true), "matmul");
    g.mark_output(g.add(Op::Dense, {a.id, g.input("w", {N, K}).id, g.input("bias", {N}).id}, relu_tb), "dense");
    Program jit(g);
    int packed = 0;
    for (const KernelInfo& k : jit.code().plan.kernels) {
      const Graph& cg = jit.code().graph;
      ASSERT_NE(cg.node(k.node).op, Op::Transpose) << what << ": the transpose was materialised";
      packed += k.spec.strategy == Strategy::GemmBroadcast &&
                std::any_of(k.fused.begin(), k.fused.end(), [&](int id) { return cg.node(id).op == Op::Transpose; });
    }
    EXPECT_EQ(packed, 2) << what << ": both GEMMs read Bᵀ while packing B (not the dot form)";
    expect_outputs_match_reference(g, jit, what);
  }
}

// The plan's GEMM epilogues: an elementwise chain over a GEMM's result runs on each finished tile,
// the product never written. A dense layer's dropout; relu_grad(h, dropout(dy)), which
// dropout-mask turns into a relu_grad on the dropped activation over dy·s; a chain with a row
// operand; one seen through a reshape. One K block with row and column tails, several K blocks (the chain on the last
// only, B packed: 300×200×1100); against the reference at 1 and 2 threads, 1 == 2 threads bit for bit.
TEST_P(JitTarget, ElementwiseChainsRunInTheGemmEpilogue) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (auto [M, K, N] : {std::array<int64_t, 3>{13, 40, 37}, {300, 1100, 200}, {64, 512, 128}}) {
    const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
    Graph g;
    Tensor key = g.input("key", {}, DType::I32);
    Attrs relu;
    relu.relu = true;
    Tensor x = g.input("x", {M, K}), h = g.add(Op::Dense, {x.id, g.input("w", {K, N}).id, g.input("b", {N}).id}, relu);
    g.mark_output(dropout(h, key, 0.3f), "dropped");
    Tensor dy = matmul(g.input("u", {M, K}), g.input("v", {K, N}));
    g.mark_output(relu_grad(h, dropout(dy, key, 0.3f)), "relu_grad");
    g.mark_output(tanh(matmul(g.input("p", {M, K}), g.input("q", {K, N})) * g.input("c", {N})), "tanh");
    // Through a view (the convnet's dropout gradient reshaped to the pooled map before its mask).
    Tensor dd = reshape(dropout(matmul(g.input("s", {M, K}), g.input("t", {K, N})), key, 0.5f), {M, 1, N, 1});
    g.mark_output(relu_grad(g.input("r", {M, 1, N, 1}), dd), "through a view");
    Program jit(g);
    int epilogues = 0, blocked = 0;
    for (const KernelInfo& k : jit.code().plan.kernels) {
      const Node& n = jit.code().graph.node(k.node);
      const bool epilogue = epilogue_gemm(jit.code().graph, n, k.fused) >= 0;
      epilogues += epilogue;
      blocked += epilogue && k.spec.gemm.kc < k.spec.gemm.K;
      EXPECT_NE(op_info(n.op).kind, OpKind::Gemm) << what << ": " << k.fn << " written";
    }
    EXPECT_EQ(epilogues, 4) << what;
    EXPECT_EQ(blocked, M == 300 ? 4 : 0) << what << ": K blocks";
    expect_outputs_match_reference(g, jit, what);
  }
}

// One dense layer sum((x·w + b) ∘ c) with exact data: c small integers (= dY), x multiples of 1/8,
// so dW = xᵀ·c and db are exact in any summation order. Its optimizer step on the reference
// interpreter and the JIT side by side.
struct DenseStep {
  Graph g;
  std::vector<float> xs, c;
  OptimizerConfig cfg;
  TrainStep step;
  DenseStep(int64_t B, int64_t K, int64_t N, const OptimizerConfig& config) : cfg(config) {
    Tensor x = g.input("x", {B, K});
    Tensor w = g.param("w", {K, N}, Init::GlorotUniform), b = g.param("b", {N}, Init::Zeros);
    c.resize(static_cast<size_t>(B * N));
    xs.resize(static_cast<size_t>(B * K));
    for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(static_cast<int>(i * 7 % 5) - 2);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i * 13 % 9) / 8.f;
    step = add_optimizer(sum((matmul(x, w) + b) * g.input("c", {B, N})), cfg);
  }
  // Step t (from 1) on both engines, at learning rate 0.01 (Adam's bias correction applied).
  void run(Interpreter& ip, Program& jit, int t) const {
    const float lr = effective_lr(cfg, 0.01f, t);
    ip.set_input("x", xs);
    jit.set_input("x", xs);
    ip.set_input("c", c);
    jit.set_input("c", c);
    ip.set_input("lr", {lr});
    jit.set_input("lr", std::vector<float>{lr});
    ip.run();
    jit.run();
  }
  // Every parameter the same on both engines within tol(reference value).
  void expect_params_match(const Interpreter& ip, const Program& jit, const std::string& what,
                           const std::function<float(float)>& tol) const {
    for (const Graph::Update& u : g.updates()) {
      const auto want = ip.value(u.param).f, got = jit.get(u.param);
      ASSERT_EQ(want.size(), got.size());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol(want[i])) << what << ": " << g.node(u.param).name << "[" << i << "]";
    }
  }
};

// The optimizers' rules in the weight gradient's epilogue (the plan's update_epilogues): dW = Xᵀ·C
// with X in eighths and C small integers is exact in any summation order, so after three steps
// the JIT's parameters and states match the reference interpreter's to the rules' float rounding.
// The bias's rules (over db = column sums of C, in memory) run as one elementwise pass.
// Batches of 800 and 1100 take K blocks (partial sums in scratch, not in the parameter; B packed
// and not), 37 and 200 columns a masked tail; every new state is written in place and dW never.
TEST_P(JitTarget, OptimizerRulesRunInTheWeightGradientsEpilogue) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (OptKind kind : {OptKind::Momentum, OptKind::Adagrad, OptKind::RMSprop, OptKind::Adam})
    for (auto [B, K, N] : {std::array<int64_t, 3>{30, 40, 37}, {1100, 96, 200}, {800, 256, 256}}) {
      const std::string what = std::string(optimizer_name(kind)) + " " + std::to_string(K) + "x" + std::to_string(N) +
                               " batch " + std::to_string(B);
      OptimizerConfig cfg;
      cfg.kind = kind;
      const DenseStep d(B, K, N, cfg);
      Program jit(d.g);
      Interpreter ip(d.g);
      const auto& code = jit.code();
      int epilogues = 0, merged = 0;  // kernels storing several rules: w's GEMM, b's one pass over db
      for (const KernelInfo& k : code.plan.kernels) {
        const bool rules = epilogue_gemm(code.graph, code.graph.node(k.node), k.fused) >= 0 && k.spec.gemm.update;
        epilogues += rules;
        if (rules) EXPECT_EQ((k.spec.gemm.kc < k.spec.gemm.K), (B > 384)) << what << ": K blocks";
        EXPECT_NE(op_info(code.graph.node(k.node).op).kind, OpKind::Gemm) << what << ": " << k.fn << " written";
        for (const Graph::Update& u : code.graph.updates())
          if (std::find(k.fused.begin(), k.fused.end(), u.value) != k.fused.end()) {
            ++merged;
            break;
          }
      }
      EXPECT_EQ(epilogues, 1) << what;
      EXPECT_EQ(merged, 2) << what;
      for (const Graph::Update& u : code.graph.updates())
        EXPECT_EQ(code.plan.node_buffer[static_cast<size_t>(u.value)],
                  code.plan.node_buffer[static_cast<size_t>(u.param)])
            << what << ": " << code.graph.node(u.param).name << " not updated in place";
      for (int t = 1; t <= 3; ++t) d.run(ip, jit, t);
      d.expect_params_match(ip, jit, what, [](float w) { return 2e-6f * std::max(1.f, std::fabs(w)); });
    }
}

// Global-norm clipping: the GEMM computing a weight gradient also sums its squares, one partial per
// parallel unit (row block or column part), and the norm's sum adds those instead of reading dW
// again (the plan's norm_epilogues). Shapes: a column tail in one K block, several K blocks, column
// parts (M 300 against a packed B on two or more cores), a narrow gradient computed transposed. dW =
// xᵀ·c is exact in any order; the squares' sums differ by rounding only.
TEST_P(JitTarget, ClippingSumsTheGradientsSquaresInTheGemmEpilogue) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  bool parts_seen = false;
  for (auto [B, K, N] : {std::array<int64_t, 3>{30, 40, 37}, {1100, 96, 200}, {1100, 300, 256}, {64, 784, 10}}) {
    const std::string what = std::to_string(K) + "x" + std::to_string(N) + " batch " + std::to_string(B);
    OptimizerConfig cfg;
    cfg.clip_norm = 5.f;
    DenseStep d(B, K, N, cfg);
    const int norm = d.step.grad_norm.id;
    d.g.mark_output(d.step.grad_norm, "norm");
    Program jit(d.g);
    Interpreter ip(d.g);
    const auto& code = jit.code();
    int gemms = 0;
    for (const KernelInfo& k : code.plan.kernels) {
      if (k.norm_out < 0) continue;
      ++gemms;
      parts_seen = parts_seen || k.spec.gemm.col_parts > 1;
      EXPECT_EQ(op_info(code.graph.node(k.node).op).kind, OpKind::Gemm) << what << ": " << k.fn;
      const auto fold = std::find_if(code.plan.kernels.begin(), code.plan.kernels.end(),
                                     [&](const KernelInfo& f) { return f.node == k.norm_out; });
      ASSERT_NE(fold, code.plan.kernels.end()) << what;
      EXPECT_EQ(fold->fold_parts, k.range) << what << ": " << fold->fn << " adds every partial sum";
      EXPECT_TRUE(fold->fused.empty()) << what << ": " << fold->fn << " reads dW again";
    }
    EXPECT_EQ(gemms, 1) << what << ": w's gradient GEMM sums its squares";
    for (int t = 1; t <= 2; ++t) {
      d.run(ip, jit, t);
      const float want = ip.value(norm).f[0], got = jit.get(norm)[0];
      ASSERT_NEAR(got, want, 1e-5f * want) << what << ": the global norm, step " << t;
    }
    d.expect_params_match(ip, jit, what, [](float w) { return 1e-6f + 1e-5f * std::fabs(w); });
  }
  if (std::thread::hardware_concurrency() >= 2) EXPECT_TRUE(parts_seen) << "no shape ran in column parts";
}

// A dense layer's bias gradient db = column sums of dY is summed by its weight gradient's GEMM
// dW = xᵀ·dY as it loads dY (the first row block's tiles; the plan's bias_sums), with no kernel of
// its own: plain SGD (a matmul_update), clipped (a plain GEMM that also sums its squares), momentum
// and Adam (their rules in the GEMM's epilogue), over a column tail, several K blocks (partial sums
// stored between them), and fewer rows than one register tile. dY = c is exact, so db and dW are in
// any order.
TEST_P(JitTarget, BiasGradientIsSummedByTheWeightGradientsGemm) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (auto [kind, clip] : {std::pair<OptKind, float>{OptKind::SGD, 0.f},
                            {OptKind::SGD, 5.f},
                            {OptKind::Momentum, 0.f},
                            {OptKind::Adam, 0.f}})
    for (auto [B, K, N] : {std::array<int64_t, 3>{30, 40, 37}, {1100, 96, 200}, {800, 256, 256}, {50, 4, 40}}) {
      const std::string what = std::string(optimizer_name(kind)) + " " + std::to_string(K) + "x" + std::to_string(N) +
                               " batch " + std::to_string(B) + (clip > 0 ? " clipped" : "");
      OptimizerConfig cfg;
      cfg.kind = kind;
      cfg.clip_norm = clip;
      const DenseStep d(B, K, N, cfg);
      Program jit(d.g);
      Interpreter ip(d.g);
      const auto& code = jit.code();
      int summed = 0;
      for (const KernelInfo& k : code.plan.kernels) {
        summed += k.colsum_out >= 0;
        EXPECT_FALSE(code.graph.node(k.node).op == Op::Sum && code.graph.node(k.node).a.axis == 0)
            << what << ": " << k.fn << " sums dY again";
      }
      EXPECT_EQ(summed, 1) << what;
      for (int t = 1; t <= 3; ++t) d.run(ip, jit, t);
      d.expect_params_match(ip, jit, what, [](float w) { return 1e-6f + 1e-5f * std::fabs(w); });
    }
}

// The SGD training step of m (forward, backward, update) as one graph.
std::unique_ptr<Model> with_sgd(std::unique_ptr<Model> m, float lr) {
  auto ps = m->g.params();
  auto gs = grad(m->loss, ps);
  for (size_t i = 0; i < ps.size(); ++i) m->g.assign(ps[i], ps[i] - gs[i] * lr);
  return m;
}
std::unique_ptr<Model> sgd_model(const std::string& name, int64_t batch, float lr) {
  return with_sgd(build_model(name, {.batch = batch}), lr);
}

void feed_batch(const Graph& g, int step, int64_t batch, Interpreter* ip, Program* jit) {
  std::mt19937 rng(static_cast<uint32_t>(100 + step));
  std::vector<float> x(static_cast<size_t>(batch * 784));
  for (auto& v : x) v = static_cast<float>(rng() % 256) / 255.f;
  std::vector<int32_t> y(static_cast<size_t>(batch));
  for (auto& v : y) v = static_cast<int32_t>(rng() % 10);
  if (ip) ip->set_input("x", x), ip->set_input_i32("y", y);
  if (jit) jit->set_input("x", x), jit->set_input_i32("y", y);
  (void)g;
}

class JitTraining : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(JitTraining, TenStepsMatchTheReference) {
  ScopedTarget target(std::get<1>(GetParam()));
  if (!target.runnable()) GTEST_SKIP() << target.why();
  auto m = sgd_model(std::get<0>(GetParam()), 30, 0.1f);
  Interpreter ip(m->g);
  Program jit(m->g);
  for (int step = 0; step < 10; ++step) {
    feed_batch(m->g, step, 30, &ip, &jit);
    ip.run();
    jit.run();
    EXPECT_NEAR(ip.value(m->loss.id).f[0], jit.get(m->loss.id)[0], 1e-4) << "step " << step;
  }
  for (Tensor p : m->g.params())
    expect_close(ip.value(p.id).f, jit.get(p.id), 1e-5, 1e-4, "parameter " + p.node().name);
}
INSTANTIATE_TEST_SUITE_P(Models, JitTraining,
                         ::testing::Combine(::testing::Values("linear", "dnn"),
                                            ::testing::ValuesIn(testing_targets::names())),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& p) {
                           return std::get<0>(p.param) + "_" + testing_targets::ident(std::get<1>(p.param));
                         });

TEST_P(JitTarget, OneAndTwoThreadsAreBitIdentical) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (const char* name : {"dnn", "cnn"}) {
    const int64_t batch = std::string(name) == "cnn" ? 8 : 30;
    auto m = sgd_model(name, batch, 0.05f);
    Program a(m->g), b(m->g);
    a.set_threads(1);
    b.set_threads(2);
    for (int step = 0; step < 3; ++step) {
      feed_batch(m->g, step, batch, nullptr, &a);
      feed_batch(m->g, step, batch, nullptr, &b);
      a.run();
      b.run();
    }
    for (Tensor p : m->g.params()) {
      std::vector<float> pa = a.get(p.id), pb = b.get(p.id);
      EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), pa.size() * 4)) << name << " " << p.node().name;
    }
  }
}

// A sum over a few chunks (split-k's partial products) read by an elementwise consumer as large
// is added where the consumer reads it, never written: vector rows with a tail (21 columns), a
// scalar chain (log does not vectorise), and a consumer in a GEMM's epilogue.
TEST_P(JitTarget, ChunkSumsAreAddedWhereTheirConsumerReadsThem) {
  ScopedTarget target(GetParam());
  if (!target.runnable()) GTEST_SKIP() << target.why();
  Graph g;
  Tensor parts = g.input("parts", {3, 37, 21}), b = g.input("b", {21});
  g.mark_output(relu(sum(parts, 0) + b), "relu(sum + b)");
  g.mark_output(log(sum(g.input("more", {2, 37, 21}), 0) * sum(g.input("others", {2, 37, 21}), 0) + 50.f), "log");
  g.mark_output(relu_grad(matmul(g.input("u", {37, 9}), g.input("v", {9, 21})), sum(g.input("dy", {4, 37, 21}), 0)),
                "in a GEMM's epilogue");
  Program jit(g);
  int inlined = 0;
  for (const KernelInfo& k : jit.code().plan.kernels) {
    EXPECT_NE(jit.code().graph.node(k.node).op, Op::Sum) << k.fn << " writes a chunk sum";
    for (int id : k.fused) inlined += is_chunk_sum(jit.code().graph, jit.code().graph.node(id));
  }
  EXPECT_EQ(inlined, 4);
  expect_outputs_match_reference(g, jit, "chunk sums");
}

// Runs `steps` SGD steps of m on the current target (the callers pin it to two cores) at 1 and 2
// threads: the losses and parameters match the interpreter, 1 == 2 threads bit for bit.
void expect_steps_match_on_two_cores(Model& m, int64_t batch, int steps, const std::string& what) {
  Interpreter ip(m.g);
  Program jit(m.g), two(m.g);
  jit.set_threads(1);
  two.set_threads(2);
  for (int step = 0; step < steps; ++step) {
    feed_batch(m.g, step, batch, &ip, &jit);
    feed_batch(m.g, step, batch, nullptr, &two);
    ip.run();
    jit.run();
    two.run();
    EXPECT_NEAR(ip.value(m.loss.id).f[0], jit.get(m.loss.id)[0], 1e-4) << what << " step " << step;
  }
  for (Tensor p : m.g.params()) {
    expect_close(ip.value(p.id).f, jit.get(p.id), 1e-5, 1e-4, what + " parameter " + p.node().name);
    std::vector<float> pa = jit.get(p.id), pb = two.get(p.id);
    EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), pa.size() * 4)) << what << " " << p.node().name;
  }
}

// The k chunks per core of forward GEMMs whose weight is a parameter (owner-computes), and the
// GEMM kernels in column parts, of a program's plan.
struct OwnerKernels {
  int owner_chunks = 0, column_parts = 0;
};
OwnerKernels owner_kernels(const Program& p) {
  OwnerKernels o;
  for (const KernelInfo& k : p.code().plan.kernels) {
    const Node& n = p.code().graph.node(k.node);
    o.owner_chunks += n.op == Op::MatMulSplitK && k.range == 2 && p.code().graph.node(n.in[1]).op == Op::Parameter;
    o.column_parts += is_gemm(k.spec.strategy) && k.spec.gemm.col_parts == 2 && k.range == 2;
  }
  return o;
}

// On two cores a first layer's forward GEMM (W1 read by no other GEMM, updated in place) runs as
// one k chunk per core, so each core reads the rows of W1 its share of the update writes; the
// chunks' sum, bias and ReLU are one kernel. The step matches the interpreter and is the same bit
// for bit on 1 and 2 threads.
TEST_P(JitTarget, AFirstLayerRunsAsOneKChunkPerCore) {
  Target t = make_target(GetParam());
  t.cores = 2;
  ScopedTarget target(t);
  if (!target.runnable()) GTEST_SKIP() << target.why();
  for (int64_t batch : {30, 128}) {
    auto m = sgd_model("dnn", batch, 0.1f);
    EXPECT_EQ(owner_kernels(Program(m->g)).owner_chunks, 1) << "batch " << batch;
    expect_steps_match_on_two_cores(*m, batch, 4, "dnn batch " + std::to_string(batch));
  }
}

// A hidden layer's weight W2 [256, 256] is also read by the input gradient dY·W2ᵀ (a transpose
// read while B is packed): on two cores its forward GEMM runs as one k chunk per core and the
// input gradient in one slice of columns (= rows of W2) per core, so each core packs only the
// rows of W2 its share of the update writes (the output layer's input gradient, W3ᵀ over k = 10,
// is too small a B to cut). Matches the interpreter; 1 == 2 threads bit for bit.
TEST_P(JitTarget, AHiddenLayersWeightIsReadByTheCoreThatUpdatesIt) {
  Target t = make_target(GetParam());
  t.cores = 2;
  ScopedTarget target(t);
  if (!target.runnable()) GTEST_SKIP() << target.why();
  const int64_t batch = 128;
  Arch arch;
  arch.hidden = {256, 256};
  auto m = with_sgd(build_model("mlp", {.batch = batch}, arch), 0.1f);
  const OwnerKernels o = owner_kernels(Program(m->g));
  EXPECT_EQ(o.owner_chunks, 2) << "W1 and W2";
  EXPECT_EQ(o.column_parts, 1) << "W2's input gradient";
  expect_steps_match_on_two_cores(*m, batch, 2, "mlp 256,256");
}

// A GEMM with few rows per core against a packed B runs in one slice of columns per core (each
// core packs only its slice): a transposed B read while packed with an elementwise epilogue, a
// dense layer whose B rows lie a page apart, and parts of unequal width with a row tail. Each on
// one core (row blocks) and two (column parts), against the reference at 1 and 2 threads, and
// 1 == 2 threads bit for bit.
TEST_P(JitTarget, FewRowsAgainstAPackedBRunInColumnParts) {
  struct Case {
    const char* what;
    int64_t M, K, N;
    int kind;  // 0: (A·Bᵀ) * m, 1: dense + bias + ReLU, 2: matmul
  };
  const Case cases[] = {{"A·Bᵀ then * m", 70, 64, 300, 0},
                        {"dense, B rows a page apart", 40, 500, 1100, 1},
                        {"unequal parts, a row tail", 260, 400, 700, 2}};
  for (int cores : {1, 2})
    for (const Case& c : cases) {
      const std::string what = std::string(c.what) + ", " + std::to_string(cores) + " core(s)";
      Target t = make_target(GetParam());
      t.cores = cores;
      t.l2_bytes = 1 << 20;  // packing decided for 512 KiB blocks, whatever the host's L2
      ScopedTarget target(t);
      if (!target.runnable()) GTEST_SKIP() << target.why();
      Graph g;
      Tensor a = g.input("a", {c.M, c.K});
      Tensor out;
      if (c.kind == 0) {
        out = matmul(a, g.input("bt", {c.N, c.K}), false, true) * g.input("m", {c.M, c.N});
      } else if (c.kind == 1) {
        out = relu(matmul(a, g.input("b", {c.K, c.N})) + g.input("bias", {c.N}));
      } else {
        out = matmul(a, g.input("b", {c.K, c.N}));
      }
      g.mark_output(out, "out");
      Program jit(g);
      int gemms = 0, parts = 0;
      for (const KernelInfo& k : jit.code().plan.kernels)
        if (is_gemm(k.spec.strategy)) {
          ++gemms;
          parts += k.spec.gemm.col_parts > 1;
          if (k.spec.gemm.col_parts > 1) {
            EXPECT_EQ(k.range, k.spec.gemm.col_parts) << what;
            EXPECT_TRUE(k.spec.gemm.pack) << what;
          }
        }
      EXPECT_EQ(gemms, 1) << what;
      EXPECT_EQ(parts, cores == 2 ? 1 : 0) << what;
      expect_outputs_match_reference(g, jit, what);
    }
}

// A label outside [0, classes) is refused by both engines with the same named error before any
// kernel indexes memory by it (the JIT once gave a garbage loss for 12 and crashed for 1 000 000).
TEST(Jit, OutOfRangeLabelsAreTheSameNamedErrorInBothEngines) {
  for (int32_t bad : {10, 12, -1, 1000000}) {
    auto m = sgd_model("linear", 4, 0.1f);
    Interpreter ip(m->g);
    Program jit(m->g);
    feed_batch(m->g, 0, 4, &ip, &jit);
    const std::vector<int32_t> y = {1, 2, bad, 3};
    ip.set_input_i32("y", y);
    jit.set_input_i32("y", y);
    std::string ref_msg, jit_msg;
    try {
      ip.run();
    } catch (const DataError& e) {
      ref_msg = e.what();
    }
    try {
      jit.run();
    } catch (const DataError& e) {
      jit_msg = e.what();
    }
    EXPECT_NE(ref_msg.find("label " + std::to_string(bad) + " outside [0, 10)"), std::string::npos) << ref_msg;
    EXPECT_EQ(ref_msg, jit_msg);
  }
}

TEST(Jit, CompiledProgramsAreCachedByGraphHash) {
  auto m1 = sgd_model("linear", 17, 0.1f);
  auto m2 = sgd_model("linear", 17, 0.1f);
  Program p1(m1->g);
  const int after_first = compile_count();
  Program p2(m2->g);
  EXPECT_EQ(compile_count(), after_first);
  EXPECT_EQ(&p1.code(), &p2.code());
  auto m3 = sgd_model("linear", 18, 0.1f);  // another shape: another program
  Program p3(m3->g);
  EXPECT_EQ(compile_count(), after_first + 1);
}

// The cache holds code only: two graphs that differ only in their initialisation seed share one
// compiled program, and each Program takes its initial weights from its own graph (a seed sweep
// in one process trains N different networks, not one network N times).
TEST(Jit, CachedCodeTakesInitialWeightsFromTheCallersGraph) {
  auto m1 = build_model("dnn", {.batch = 30, .seed = 1});
  auto m2 = build_model("dnn", {.batch = 30, .seed = 2});
  Program p1(m1->g);
  const int after_first = compile_count();
  Program p2(m2->g);
  EXPECT_EQ(compile_count(), after_first) << "a different seed changes no code";
  for (size_t i = 0; i < m1->g.params().size(); ++i) {
    const Node& n1 = m1->g.params()[i].node();
    const Node& n2 = m2->g.params()[i].node();
    EXPECT_EQ(p1.get(n1.id), init_param(n1)) << n1.name;
    EXPECT_EQ(p2.get(n2.id), init_param(n2)) << n2.name;
    if (n1.a.init == Init::GlorotUniform) EXPECT_NE(p1.get(n1.id), p2.get(n2.id)) << n1.name;
  }
}

// Graphs that differ in one attribute value compile twice in one process and compute different
// values (a key that missed the field would hand the second graph the first one's code).
TEST(Jit, EveryAttributeThatChangesTheCodeChangesTheCacheKey) {
  using Build = Tensor (*)(Graph&, Tensor, float);
  const std::pair<const char*, Build> cases[] = {
      {"constant", [](Graph& g, Tensor x, float v) { return x * constant(g, v, {}); }},
      {"dropout rate", [](Graph& g, Tensor x, float v) { return dropout(x, g.input("key", {}, DType::I32), v); }},
      {"allreduce scale", [](Graph&, Tensor x, float v) { return allreduce(x, v, 0); }},
      {"leaky_relu alpha", [](Graph&, Tensor x, float v) { return leaky_relu(x * -1.f, v); }},
      {"elu alpha", [](Graph&, Tensor x, float v) { return elu(x * -1.f, v); }},
  };
  for (const auto& [what, build] : cases) {
    SCOPED_TRACE(what);
    std::vector<float> out[2];
    const int before = compile_count();
    for (int k = 0; k < 2; ++k) {
      Graph g;
      Tensor x = g.input("x", {4, 64});
      g.mark_output(build(g, x, k == 0 ? 0.25f : 0.5f), "y");
      Program p(g);
      std::vector<float> xs(256);
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = 0.5f + static_cast<float>(i % 7);
      p.set_input("x", xs);
      if (g.find_id("key") >= 0) p.set_input_i32("key", std::vector<int32_t>{3});
      p.run();
      out[k] = p.get(g.outputs()[0]);
    }
    EXPECT_EQ(compile_count(), before + 2);
    EXPECT_NE(out[0], out[1]);
  }
}

// A marked output that is a reshape (a view of its source's buffer) keeps that buffer: the memory
// planner pinned the view but not the buffer, so later kernels reused it and the output read back
// their values (found by batch_norm, whose output is a reshape).
TEST(Jit, AnOutputThatIsAReshapeKeepsItsMemory) {
  Graph g;
  Tensor x = g.input("x", {64, 32});
  Tensor view = reshape(exp(x * 0.5f), {32, 64});
  g.mark_output(view, "view");
  Tensor later = x;
  for (int i = 0; i < 4; ++i) later = tanh(matmul(later, transpose(later)) * 0.01f) + 1.f;  // reuses freed memory
  g.mark_output(later, "later");
  std::vector<float> xs(64 * 32);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 17) / 17.f;
  Interpreter ip(g);
  Program p(g);
  ip.set_input("x", xs);
  p.set_input("x", xs);
  ip.run();
  p.run();
  for (Tensor t : {view, later}) {
    const auto ref = ip.value(t.id).f, got = p.get(t.id);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-4 + 1e-4 * std::fabs(ref[i])) << t.id << "[" << i << "]";
  }
}

// The GEMM runs on the target's widest FMA registers and no wider: zmm for x86-64-v4, ymm and never
// a zmm for x86-64-v3 (the AVX2 code must run on CPUs without AVX-512). Compiling needs no
// AVX-512 on the host, so this runs for both targets everywhere.
TEST_P(JitTarget, GemmUsesTheTargetsWidestFmaRegistersAndNoWider) {
  Graph g;
  Tensor c = matmul(g.input("a", {30, 784}), g.input("b", {784, 100}));
  g.mark_output(c, "c");
  CompileOptions o;
  o.keep_asm = true;
  o.keep_ir = true;
  o.target = make_target(GetParam());
  const bool avx512 = o.target->isa == Isa::Avx512;
  auto code = compile(g, o);
  EXPECT_NE(code->assembly.find(avx512 ? "vfmadd231ps\t%zmm" : "vfmadd231ps\t%ymm"), std::string::npos)
      << code->assembly.substr(0, 2000);
  if (!avx512) EXPECT_EQ(code->assembly.find("%zmm"), std::string::npos) << "a zmm register in AVX2 code";
  EXPECT_NE(code->ir.find(avx512 ? "<16 x float>" : "<8 x float>"), std::string::npos);
  EXPECT_EQ(code->target.lanes, avx512 ? 16 : 8);
}

INSTANTIATE_TEST_SUITE_P(Targets, JitTarget, ::testing::ValuesIn(testing_targets::names()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return testing_targets::ident(p.param);
                         });

}  // namespace
}  // namespace gradc
