#include "tools/peak.h"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

#include "compiler/target.h"

namespace gradc::cli {

namespace {
// Independent FMA chains held in registers: chains ≥ FMA latency × pipes (4 × 2 on Zen 3/4/5), and
// within the register file (16 ymm for AVX2, 32 zmm for AVX-512). The loop is written once for any
// width and inlined into one function per ISA, each compiled for its own ISA and only called after
// the CPU was asked, so no host ever sees an instruction it lacks.
template <int Lanes, int Chains>
[[gnu::always_inline]] inline float fma_chains(int64_t iters) {
  using V = float __attribute__((ext_vector_type(Lanes)));
  V c[Chains];
  for (V& x : c) x = 0.f;
  const V a = 0.999999f, b = 1e-7f;
  for (int64_t it = 0; it < iters; ++it)
#pragma unroll
    for (int i = 0; i < Chains; ++i) c[i] = __builtin_elementwise_fma(c[i], a, b);
  for (int i = 1; i < Chains; ++i) c[0] += c[i];
  float s = 0;
  for (int l = 0; l < Lanes; ++l) s += c[0][l];
  return s;
}

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iters) { return fma_chains<16, 16>(iters); }
__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iters) { return fma_chains<8, 12>(iters); }
}  // namespace

bool host_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool host_has_avx512() { return __builtin_cpu_supports("avx512f"); }

double measure_fma_peak(int threads, int lanes) {
  if (lanes == 16 && !host_has_avx512())
    throw std::invalid_argument("gradc: this CPU has no AVX-512: cannot measure a 16-lane FMA peak");
  if (!host_has_avx2_fma()) throw std::invalid_argument("gradc: this CPU has no AVX2+FMA");
  const bool wide = lanes == 16;
  const int chains = wide ? 16 : 12;
  const int64_t full = wide ? 4'000'000 : 6'000'000;  // ≈ 2 GFLOP per thread, ~10 ms on silicon
  volatile float sink = 0;
  // Calibrate on 1% of that: where the FMAs are far slower (an emulator such as qemu-user runs
  // them in software, 100-1000x), run ~10 ms worth instead of minutes.
  const double c0 = omp_get_wtime();
  sink = sink + (wide ? fma_loop_avx512(full / 100) : fma_loop_avx2(full / 100));
  const double per_iter = std::max(1e-12, (omp_get_wtime() - c0) / static_cast<double>(full / 100));
  const int64_t iters = std::clamp(static_cast<int64_t>(0.01 / per_iter), full / 100, full);
  double best = 0;
  for (int rep = 0; rep < 7; ++rep) {  // the best of 7: clock boost and neighbours vary run to run
    const double t0 = omp_get_wtime();
    float local = 0;
#pragma omp parallel num_threads(threads) reduction(+ : local)
    local += wide ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
    const double dt = omp_get_wtime() - t0;
    sink = sink + local;
    best = std::max(best, static_cast<double>(chains) * lanes * 2 * static_cast<double>(iters) * threads / dt / 1e9);
  }
  (void)sink;
  return best;
}

double target_fma_peak(int threads) {
  require_runnable(default_target());
  return measure_fma_peak(threads, default_target().lanes);
}

std::string target_line() {
  const Target& t = default_target();
  return "target: " + t.describe() + "\n% of peak = against the measured " + std::to_string(t.lanes) +
         "-lane FMA peak of this target";
}

std::string target_short() {
  const Target& t = default_target();
  return (t.name == "host" ? "host " + t.cpu : t.name) + ", " + t.isa_name();
}

const Blas* openblas() {
  static Blas b;
  static bool tried = false;
  if (!tried) {
    tried = true;
    for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
      void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      b.sgemm = reinterpret_cast<decltype(b.sgemm)>(dlsym(h, "cblas_sgemm"));
      b.set_threads = reinterpret_cast<decltype(b.set_threads)>(dlsym(h, "openblas_set_num_threads"));
      if (b.sgemm) break;
    }
  }
  return b.sgemm ? &b : nullptr;
}

std::array<double, 2> best_of_rounds_1_2(const std::function<double(int threads)>& us_at, int rounds) {
  std::array<double, 2> best = {1e30, 1e30};
  for (int round = 0; round < rounds; ++round)
    for (int t = 1; t <= 2; ++t)
      best[static_cast<size_t>(t - 1)] = std::min(best[static_cast<size_t>(t - 1)], us_at(t));
  return best;
}

double blas_sgemm_us(const Blas& blas, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int threads, int reps) {
  using Clock = std::chrono::steady_clock;
  std::vector<float> A(static_cast<size_t>(M * K), 0.5f), B(static_cast<size_t>(K * N), 0.25f),
      C(static_cast<size_t>(M * N));
  if (blas.set_threads) blas.set_threads(threads);
  const int lda = static_cast<int>(ta ? M : K), ldb = static_cast<int>(tb ? K : N);
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    const auto a = Clock::now();
    blas.sgemm(101, ta ? 112 : 111, tb ? 112 : 111, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f,
               A.data(), lda, B.data(), ldb, 0.f, C.data(), static_cast<int>(N));
    if (r) t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

}  // namespace gradc::cli
