// oneDNN's convolutions on one shape, for `gradc bench MODEL --convs`: forward, backward data and
// backward weights on NHWC activations (gradc's layout) with the filters in whatever layout oneDNN
// prefers (format `any`, reordered once outside the timing, as a framework keeps its weights),
// median µs each. A separate
// program because Debian's libdnnl runs on GNU OpenMP, which must not share a process with gradc's
// LLVM OpenMP; the parent sets OMP_NUM_THREADS. Before timing, the forward output is checked against
// a direct float64 convolution at sampled points, so a wrong kernel never yields a figure.
//
// Usage: gradc_dnnl_bench REPS B H W C KH KW F SH SW PAD_TOP PAD_BOTTOM PAD_LEFT PAD_RIGHT
// Prints one JSON line: {"fwd_us", "bwd_data_us", "bwd_weights_us", "max_rel_err", "impl": {...}}.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

namespace {
using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

struct Shape {
  int64_t B, H, W, C, KH, KW, F, SH, SW, pt, pb, pl, pr, OH, OW;
};

double median_us(const std::function<void()>& run, int reps) {
  run();  // warm-up: first-touch, JIT'd kernels
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The largest relative error of y (NHWC) against a direct float64 convolution at 64 sampled outputs.
double check_forward(const Shape& s, const std::vector<float>& x, const std::vector<float>& w,
                     const std::vector<float>& y) {
  std::mt19937 rng(7);
  double worst = 0;
  for (int k = 0; k < 64; ++k) {
    const int64_t b = rng() % s.B, oh = rng() % s.OH, ow = rng() % s.OW, f = rng() % s.F;
    double acc = 0, mag = 0;
    for (int64_t kh = 0; kh < s.KH; ++kh)
      for (int64_t kw = 0; kw < s.KW; ++kw) {
        const int64_t ih = oh * s.SH + kh - s.pt, iw = ow * s.SW + kw - s.pl;
        if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
        for (int64_t c = 0; c < s.C; ++c) {
          const double p = static_cast<double>(x[static_cast<size_t>(((b * s.H + ih) * s.W + iw) * s.C + c)]) *
                           w[static_cast<size_t>(((kh * s.KW + kw) * s.C + c) * s.F + f)];
          acc += p;
          mag += std::fabs(p);
        }
      }
    const double got = y[static_cast<size_t>(((b * s.OH + oh) * s.OW + ow) * s.F + f)];
    worst = std::max(worst, std::fabs(got - acc) / std::max(mag, 1e-30));
  }
  return worst;
}

int run(const Shape& s, int reps) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  const memory::desc x_md({s.B, s.C, s.H, s.W}, kF32, Tag::nhwc), w_user({s.F, s.C, s.KH, s.KW}, kF32, Tag::hwio),
      w_md({s.F, s.C, s.KH, s.KW}, kF32, Tag::any), y_md({s.B, s.F, s.OH, s.OW}, kF32, Tag::nhwc);
  const memory::dims strides{s.SH, s.SW}, pad_l{s.pt, s.pl}, pad_r{s.pb, s.pr};
  std::vector<float> x = random_values(static_cast<size_t>(s.B * s.H * s.W * s.C), 1),
                     w = random_values(static_cast<size_t>(s.KH * s.KW * s.C * s.F), 2),
                     y(static_cast<size_t>(s.B * s.OH * s.OW * s.F)), dy = random_values(y.size(), 3), dx(x.size()),
                     dw(w.size());
  memory xm(x_md, eng, x.data()), wu(w_user, eng, w.data()), ym(y_md, eng, y.data()), dym(y_md, eng, dy.data()),
      dxm(x_md, eng, dx.data());
  const auto alg = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fwd_pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, x_md, w_md, y_md, strides, pad_l, pad_r),
      eng);
  const dnnl::convolution_backward_data::primitive_desc bwd_d_pd(
      dnnl::convolution_backward_data::desc(alg, x_md, w_md, y_md, strides, pad_l, pad_r), eng, fwd_pd);
  const dnnl::convolution_backward_weights::primitive_desc bwd_w_pd(
      dnnl::convolution_backward_weights::desc(alg, x_md, w_md, y_md, strides, pad_l, pad_r), eng, fwd_pd);
  memory wm(fwd_pd.weights_desc(), eng), dwm(bwd_w_pd.diff_weights_desc(), eng);
  dnnl::reorder(wu, wm).execute(st, wu, wm);
  st.wait();
  dnnl::convolution_forward fwd(fwd_pd);
  dnnl::convolution_backward_data bwd_d(bwd_d_pd);
  dnnl::convolution_backward_weights bwd_w(bwd_w_pd);
  auto forward = [&] {
    fwd.execute(st, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
    st.wait();
  };
  forward();
  const double err = check_forward(s, x, w, y);
  if (!(err < 1e-4)) {
    std::printf("{\"error\": \"oneDNN's forward convolution is off by %g (relative) on this host\"}\n", err);
    return 1;
  }
  const double f_us = median_us(forward, reps);
  const double d_us = median_us(
      [&] {
        bwd_d.execute(st, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}});
        st.wait();
      },
      reps);
  const double w_us = median_us(
      [&] {
        bwd_w.execute(st, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_WEIGHTS, dwm}});
        st.wait();
      },
      reps);
  std::printf(
      "{\"fwd_us\": %.2f, \"bwd_data_us\": %.2f, \"bwd_weights_us\": %.2f, \"max_rel_err\": %.3g, "
      "\"impl\": {\"fwd\": \"%s\", \"bwd_data\": \"%s\", \"bwd_weights\": \"%s\"}}\n",
      f_us, d_us, w_us, err, fwd_pd.impl_info_str(), bwd_d_pd.impl_info_str(), bwd_w_pd.impl_info_str());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 15) {
    std::fprintf(stderr, "usage: gradc_dnnl_bench REPS B H W C KH KW F SH SW PAD_TOP PAD_BOTTOM PAD_LEFT PAD_RIGHT\n");
    return 2;
  }
  std::vector<int64_t> v;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    const long long n = std::strtoll(argv[i], &end, 10);
    if (*end != '\0' || n < 0 || n > (1 << 24)) {
      std::fprintf(stderr, "gradc_dnnl_bench: argument %d '%s' is not a count\n", i, argv[i]);
      return 2;
    }
    v.push_back(n);
  }
  Shape s{v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], 0, 0};
  if (s.SH < 1 || s.SW < 1 || s.B < 1 || s.C < 1 || s.F < 1 || s.KH < 1 || s.KW < 1) {
    std::fprintf(stderr, "gradc_dnnl_bench: zero batch, channel, filter, window or stride\n");
    return 2;
  }
  s.OH = (s.H + s.pt + s.pb - s.KH) / s.SH + 1;
  s.OW = (s.W + s.pl + s.pr - s.KW) / s.SW + 1;
  try {
    return run(s, static_cast<int>(std::max<int64_t>(v[0], 1)));
  } catch (const dnnl::error& e) {
    std::printf("{\"error\": \"oneDNN: %s\"}\n", e.what());
    return 1;
  }
}
