// --precision bf16 (CompileOptions::bf16): packed GEMMs round both operands to bf16 and multiply
// them with vdpbf16ps into f32. Each kernel form is held to a float64 product of the bf16-rounded
// operands (an f32 kernel would miss it by ~2^-9 relative), a CPU without AVX512_BF16 gets a named
// error, and a training step in bf16 tracks the f32 one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "models/models.h"
#include "runtime/program.h"

namespace gradc {
namespace {

float bf16_round(float x) {  // nearest even, as the packing does
  uint32_t b = 0;
  std::memcpy(&b, &x, 4);
  b = (b + 0x7fff + ((b >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&x, &b, 4);
  return x;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

bool host_bf16() { return make_target("host").bf16; }

struct Shape3 {
  int64_t M, N, K;
  bool ta, dense;
};

// C = op(A)·B (+ bias, ReLU) in bf16 against float64 sums of the rounded operands.
void check_gemm(const Shape3& s) {
  SCOPED_TRACE(std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) + (s.ta ? " ta" : "") +
               (s.dense ? " dense" : ""));
  Graph g;
  Tensor a = g.input("a", s.ta ? Shape{s.K, s.M} : Shape{s.M, s.K});
  Tensor b = g.input("b", {s.K, s.N});
  Tensor bias = g.input("bias", {s.N});
  Tensor c = s.dense ? relu(matmul(a, b) + bias) : matmul(s.ta ? transpose(a) : a, b);
  g.mark_output(c, "c");
  CompileOptions co;
  co.bf16 = true;
  Program p(g, co);
  bool any_bf16 = false;
  for (const KernelInfo& k : p.code().plan.kernels) any_bf16 |= k.spec.gemm.bf16;
  ASSERT_TRUE(any_bf16) << "no GEMM kernel was scheduled in bf16";
  const auto av = random_values(static_cast<size_t>(s.M * s.K), 1),
             bv = random_values(static_cast<size_t>(s.K * s.N), 2), cv = random_values(static_cast<size_t>(s.N), 3);
  p.set_input("a", av);
  p.set_input("b", bv);
  p.set_input("bias", cv);
  p.run();
  const std::vector<float> out = p.get(c.id);
  for (int64_t i = 0; i < s.M; ++i)
    for (int64_t j = 0; j < s.N; ++j) {
      double sum = 0, mag = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        const double x = bf16_round(av[static_cast<size_t>(s.ta ? k * s.M + i : i * s.K + k)]);
        const double y = bf16_round(bv[static_cast<size_t>(k * s.N + j)]);
        sum += x * y;
        mag += std::abs(x * y);
      }
      if (s.dense) sum = std::max(0.0, sum + cv[static_cast<size_t>(j)]);
      ASSERT_NEAR(out[static_cast<size_t>(i * s.N + j)], sum, 2e-6 * mag + 1e-6) << "C[" << i << "][" << j << "]";
    }
}

TEST(Bf16, GemmsMatchTheRoundedOperandsProduct) {
  if (!host_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // Odd K (a zero partner), K over the 384 block (partial sums in C), N not a multiple of the tile,
  // row tails, the transposed-A weight-gradient form, the dense epilogue. A is packed in vectors
  // (32 k of a row, or a k pair of a tile's rows when transposed) with the block's rest pair by pair.
  for (const Shape3& s :
       {Shape3{30, 100, 784, false, true}, Shape3{64, 64, 1, false, false}, Shape3{37, 130, 1001, false, false},
        Shape3{100, 10, 33, true, false}, Shape3{257, 512, 512, false, true}, Shape3{300, 80, 7, true, false},
        Shape3{70, 96, 801, true, false}, Shape3{13, 48, 95, false, false}})
    check_gemm(s);
}

// A bias gradient's column sums of B summed by a bf16 GEMM (the plan's bias_sums: from the f32 B its
// pack reads, by the thread holding the first row block): exact f32 sums in k order, not bf16 ones,
// over K blocks (K 1001 > 384) and a column tail, with no kernel of their own.
TEST(Bf16, BiasGradientsAreSummedInF32ByTheGemm) {
  if (!host_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  const int64_t M = 70, N = 130, K = 1001;
  Graph g;
  Tensor a = g.input("a", {K, M}), b = g.input("b", {K, N});
  g.mark_output(matmul(transpose(a), b), "c");
  Tensor s = sum(b, 0);
  g.mark_output(s, "s");
  CompileOptions co;
  co.bf16 = true;
  Program p(g, co);
  int summed = 0;
  for (const KernelInfo& k : p.code().plan.kernels) summed += k.colsum_out >= 0 && k.spec.gemm.bf16;
  ASSERT_EQ(summed, 1) << "the bf16 GEMM does not sum B's columns";
  const auto av = random_values(static_cast<size_t>(M * K), 4), bv = random_values(static_cast<size_t>(K * N), 5);
  p.set_input("a", av);
  p.set_input("b", bv);
  p.run();
  const std::vector<float> out = p.get(s.id);
  for (int64_t j = 0; j < N; ++j) {
    float want = 0.f;  // k order, in f32
    for (int64_t k = 0; k < K; ++k) want += bv[static_cast<size_t>(k * N + j)];
    ASSERT_EQ(out[static_cast<size_t>(j)], want) << "column " << j;
  }
}

TEST(Bf16, TargetsWithoutAvx512Bf16AreANamedError) {
  Graph g;
  Tensor a = g.input("a", {8, 8}), b = g.input("b", {8, 8});
  g.mark_output(matmul(a, b), "c");
  CompileOptions co;
  co.bf16 = true;
  co.target = make_target("x86-64-v4");  // AVX-512 without BF16
  try {
    compile(g, co);
    FAIL() << "compiled bf16 for x86-64-v4";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--precision bf16 needs AVX512_BF16"), std::string::npos) << e.what();
  }
  co.target = make_target("sapphirerapids");  // compiles on any host (runs where the CPU has it)
  EXPECT_NO_THROW(compile(g, co));
}

// mlp512's step (with dropout) at batch 64: ten bf16 SGD steps follow the f32 losses within 2 %.
TEST(Bf16, TrainingStepTracksF32) {
  if (!host_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  auto m = build_model("mlp512", {.batch = 64, .training = true});
  add_optimizer(m->loss, OptimizerConfig{});  // SGD: RMSprop's sign-like first steps would amplify any difference
  CompileOptions bf;
  bf.bf16 = true;
  Program f32(m->g), b16(m->g, bf);
  std::mt19937 rng(5);
  for (int s = 0; s < 10; ++s) {
    std::vector<float> x(64 * 784);
    std::vector<int32_t> y(64);
    for (float& v : x) v = static_cast<float>(rng() % 256) / 255.f;
    for (int32_t& v : y) v = static_cast<int32_t>(rng() % 10);
    for (Program* p : {&f32, &b16}) {
      p->set_input("x", x);
      p->set_input_i32("y", y);
      p->set_input("lr", std::vector<float>{0.05f});
      p->set_input_i32("dropout_key", std::vector<int32_t>{s});
      p->run();
    }
    const float lf = f32.get(m->loss.id)[0], lb = b16.get(m->loss.id)[0];
    EXPECT_NEAR(lb, lf, 0.02 * lf) << "step " << s;
    if (s == 0) EXPECT_NE(lb, lf) << "the bf16 step computed exactly the f32 one";
  }
}

}  // namespace
}  // namespace gradc
