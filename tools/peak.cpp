#include "tools/peak.h"

#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <vector>

#include "compiler/target.h"
#include "tools/bench_steps.h"

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

// vdpbf16ps chains (each instruction: 16 lanes × 2 products, 64 flops), for --precision bf16.
__attribute__((target("avx512f,avx512bf16"))) float dpbf16_loop(int64_t iters) {
  __m512 c[16];
  for (__m512& x : c) x = _mm512_setzero_ps();
  const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80));  // (1, 1)
  const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x33d633d6));  // (1e-7, 1e-7)
  for (int64_t it = 0; it < iters; ++it)
#pragma unroll
    for (int i = 0; i < 16; ++i) c[i] = _mm512_dpbf16_ps(c[i], a, b);
  for (int i = 1; i < 16; ++i) c[0] = _mm512_add_ps(c[0], c[i]);
  return _mm512_reduce_add_ps(c[0]);
}
__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iters) { return fma_chains<8, 12>(iters); }
}  // namespace

namespace {
// GFLOP/s of `loop(iters)` (flops_per_iter each) on `threads` threads at once: the best of 7 runs,
// since clock boost and neighbours vary run to run.
double best_rate(int threads, float (*loop)(int64_t), int64_t iters, double flops_per_iter) {
  volatile float sink = 0;
  double best = 0;
  for (int rep = 0; rep < 7; ++rep) {
    const double t0 = omp_get_wtime();
    float local = 0;
#pragma omp parallel num_threads(threads) reduction(+ : local)
    local += loop(iters);
    const double dt = omp_get_wtime() - t0;
    sink = sink + local;
    best = std::max(best, flops_per_iter * static_cast<double>(iters) * threads / dt / 1e9);
  }
  (void)sink;
  return best;
}
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
  return best_rate(threads, wide ? fma_loop_avx512 : fma_loop_avx2, iters, static_cast<double>(chains) * lanes * 2);
}

double measure_bf16_peak(int threads) {
  if (!__builtin_cpu_supports("avx512bf16"))
    throw std::invalid_argument("gradc: this CPU has no AVX512_BF16: cannot measure a vdpbf16ps peak");
  volatile float sink = 0;
  const int64_t iters = 2'000'000;
  sink = sink + dpbf16_loop(iters / 100);  // warm-up
  return best_rate(threads, dpbf16_loop, iters, 16.0 * 64);
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

std::string openblas_best_coretype() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

namespace {
std::string blas_note;

// C = A·B on a small odd shape against a float64 product: a kernel set the CPU runs wrongly (or an
// OpenBLAS built without it) must not produce figures.
bool blas_correct(const Blas& b) {
  const int M = 37, N = 29, K = 53;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (int i = 0; i < M * K; ++i) A[static_cast<size_t>(i)] = static_cast<float>((i * 7) % 13) / 13.f - 0.5f;
  for (int i = 0; i < K * N; ++i) B[static_cast<size_t>(i)] = static_cast<float>((i * 5) % 11) / 11.f - 0.5f;
  b.sgemm(101, 111, 111, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double want = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        const double p = static_cast<double>(A[static_cast<size_t>(i * K + k)]) * B[static_cast<size_t>(k * N + j)];
        want += p, mag += std::fabs(p);
      }
      if (std::fabs(C[static_cast<size_t>(i * N + j)] - want) > 1e-5 * (mag + 1e-30)) return false;
    }
  return true;
}
}  // namespace

const Blas* openblas() {
  static Blas b;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const char* pinned = std::getenv("OPENBLAS_CORETYPE");
    const std::string core = openblas_best_coretype();
    // Read by OpenBLAS when it loads, so set before dlopen (gradc never links it).
    if (!core.empty()) setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    unsetenv("OPENBLAS_L2_SIZE");
    for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
      void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      b.sgemm = reinterpret_cast<decltype(b.sgemm)>(dlsym(h, "cblas_sgemm"));
      b.set_threads = reinterpret_cast<decltype(b.set_threads)>(dlsym(h, "openblas_set_num_threads"));
      auto corename = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_corename"));
      auto config = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_config"));
      std::string version = config ? config() : "OpenBLAS";
      version = version.substr(0, version.find(' ', version.find(' ') + 1));  // "OpenBLAS 0.3.21"
      b.kernels = version + ", " + (corename ? corename() : std::string("?")) + " kernels";
      if (pinned && core != pinned) b.kernels += std::string(" (the environment's ") + pinned + " pin overridden)";
      if (b.sgemm) break;
    }
    if (b.sgemm && !blas_correct(b)) {
      blas_note = b.kernels + " computed a wrong product on this host: column skipped";
      b.sgemm = nullptr;
    } else if (!b.sgemm) {
      blas_note = "OpenBLAS not installed: column skipped";
    }
  }
  return b.sgemm ? &b : nullptr;
}

std::string openblas_note() {
  const Blas* b = openblas();
  return b ? b->kernels : blas_note;
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

namespace {
// The median over `rounds` of body(reps) timed on two threads, in ns per repetition.
double median_ns_per_rep(int rounds, int reps, void (*body)(int reps, std::atomic<int>& flag)) {
  std::vector<double> ns;
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int> flag{0};
    double t = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp barrier
      const double t0 = omp_get_wtime();
      body(reps, flag);
#pragma omp barrier
      if (omp_get_thread_num() == 0) t = (omp_get_wtime() - t0) * 1e9 / reps;
    }
    ns.push_back(t);
  }
  return median(std::move(ns));
}

// Thread 0 writes odd values, thread 1 answers with the next even one: each repetition moves the
// flag's line to the other core and back.
void ping_pong(int reps, std::atomic<int>& flag) {
  const int me = omp_get_thread_num();
  for (int i = 0; i < reps; ++i) {
    const int want = 2 * i + me;
    while (flag.load(std::memory_order_acquire) != want) {
    }
    flag.store(want + 1, std::memory_order_release);
  }
}

void barriers(int reps, std::atomic<int>&) {
  for (int i = 0; i < reps; ++i) {
#pragma omp barrier
  }
}
}  // namespace

std::string cross_core_line() {
  if (omp_get_max_threads() < 2) return "";
  const double round_trip = median_ns_per_rep(5, 2000, ping_pong), barrier = median_ns_per_rep(5, 2000, barriers);
  char buf[128];
  std::snprintf(buf, sizeof buf, "2 threads: a cache line's round trip between them %.0f ns, an OpenMP barrier %.0f ns",
                round_trip, barrier);
  return buf;
}

}  // namespace gradc::cli
