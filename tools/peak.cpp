#include "tools/peak.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace gradc::cli {

namespace {
// 16 independent FMA chains: enough to cover FMA latency × pipes on Zen 4/5 (4 cycles × 2 pipes).
__attribute__((target("avx512f"))) float fma_loop(int64_t iters) {
  __m512 c0 = _mm512_set1_ps(0.f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b), c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b), c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b), c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b), c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
    c12 = _mm512_fmadd_ps(c12, a, b), c13 = _mm512_fmadd_ps(c13, a, b), c14 = _mm512_fmadd_ps(c14, a, b);
    c15 = _mm512_fmadd_ps(c15, a, b);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                           _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                     _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
  return _mm512_reduce_add_ps(s);
}
}  // namespace

double measure_fma_peak(int threads) {
  const int64_t iters = 4'000'000;  // 16 zmm × 16 lanes × 2 flops × iters ≈ 2 GFLOP per thread
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 7; ++rep) {  // the best of 7: clock boost and neighbours vary run to run
    const double t0 = omp_get_wtime();
    float local = 0;
#pragma omp parallel num_threads(threads) reduction(+ : local)
    local += fma_loop(iters);
    const double dt = omp_get_wtime() - t0;
    sink = sink + local;
    best = std::max(best, 16.0 * 16 * 2 * static_cast<double>(iters) * threads / dt / 1e9);
  }
  (void)sink;
  return best;
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
