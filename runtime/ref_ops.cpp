#include "runtime/ref_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "autodiff/elementwise.h"
#include "autodiff/rng.h"
#include "autodiff/shape_rules.h"
#include "runtime/dataset.h"
#include "runtime/labels.h"

namespace gradc {

template <class T>
using Ins = std::vector<const BasicValue<T>*>;

// Every op's kernel, declared for every op of the table: ref_kernel names them in a table whose
// map-op rows are never instantiated (map ops run their Def through ref_map instead).
#define GRADC_DECL_REF(E, name, arity, kind, diff) \
  template <class T>                               \
  void ref_##E(const Node& n, const Ins<T>& in, BasicValue<T>& out);
GRADC_OPS(GRADC_DECL_REF)
#undef GRADC_DECL_REF

namespace {

template <class T, class F>
void map1(const Ins<T>& in, BasicValue<T>& out, F f) {
  const auto& x = in[0]->f;
  for (size_t i = 0; i < out.f.size(); ++i) out.f[i] = f(x[i]);
}

// Broadcasting binary map: an operand whose shape is a suffix of the output's repeats with period
// numel(operand), so index i reads element i % numel.
template <class T, class F>
void map2(const Ins<T>& in, BasicValue<T>& out, F f) {
  const auto& a = in[0]->f;
  const auto& b = in[1]->f;
  for (size_t i = 0; i < out.f.size(); ++i) out.f[i] = f(a[i % a.size()], b[i % b.size()]);
}

// View x along `axis` as [outer, n, inner].
struct Split {
  size_t outer = 1, n = 1, inner = 1;
};
Split split(const Shape& s, int axis) {
  Split r;
  for (int k = 0; k < s.rank; ++k) {
    auto d = static_cast<size_t>(s[k]);
    if (k < axis)
      r.outer *= d;
    else if (k == axis)
      r.n = d;
    else
      r.inner *= d;
  }
  return r;
}

template <class T>
void reduce_sum(const Node& n, const Ins<T>& in, BasicValue<T>& out, bool mean) {
  const BasicValue<T>& x = *in[0];
  if (n.a.axis == -1) {
    double acc = 0;
    for (T v : x.f) acc += v;
    out.f[0] = static_cast<T>(mean ? acc / static_cast<double>(x.f.size()) : acc);
    return;
  }
  Split s = split(x.shape, n.a.axis);
  for (size_t o = 0; o < s.outer; ++o)
    for (size_t j = 0; j < s.inner; ++j) {
      double acc = 0;
      for (size_t k = 0; k < s.n; ++k) acc += x.f[(o * s.n + k) * s.inner + j];
      out.f[o * s.inner + j] = static_cast<T>(mean ? acc / static_cast<double>(s.n) : acc);
    }
}

template <class T>
T logsumexp_row(const T* x, size_t c) {
  T m = -INFINITY;
  for (size_t j = 0; j < c; ++j) m = std::max(m, x[j]);
  double s = 0;
  for (size_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(x[j] - m));
  return m + static_cast<T>(std::log(s));
}

void check_label(int32_t y, int64_t c, const Node& n) {
  if (y < 0 || y >= c) throw DataError(label_error(n, y, c));
}

// Calls f(x_index, w_index, y_index) for every multiply-accumulate of an NHWC conv.
template <class F>
void conv_for_each(const ConvGeo& g, F f) {
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          int64_t ih = oh * g.SH + kh - g.ph;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            int64_t iw = ow * g.SW + kw - g.pw;
            if (iw < 0 || iw >= g.W) continue;
            for (int64_t c = 0; c < g.C; ++c)
              for (int64_t fo = 0; fo < g.F; ++fo)
                f(static_cast<size_t>(((b * g.H + ih) * g.W + iw) * g.C + c),
                  static_cast<size_t>(((kh * g.KW + kw) * g.C + c) * g.F + fo),
                  static_cast<size_t>(((b * g.OH + oh) * g.OW + ow) * g.F + fo));
          }
        }
}
}  // namespace

// Sources are filled by the interpreter itself.
template <class T>
void ref_Input(const Node&, const Ins<T>&, BasicValue<T>&) {}
template <class T>
void ref_Parameter(const Node&, const Ins<T>&, BasicValue<T>&) {}
template <class T>
void ref_Constant(const Node& n, const Ins<T>&, BasicValue<T>& out) {
  if (n.a.data.empty())
    std::fill(out.f.begin(), out.f.end(), static_cast<T>(n.a.value));
  else
    out.f.assign(n.a.data.begin(), n.a.data.end());
}

// C = op(A)·op(B), optionally with A or B masked by (mask > 0) elementwise, then + bias, ReLU.
template <class T>
static void gemm_ref(const Node& n, const BasicValue<T>& a, const BasicValue<T>& b, const BasicValue<T>* mask,
                     const BasicValue<T>* bias, BasicValue<T>& out) {
  const size_t M = static_cast<size_t>(out.shape[0]), N = static_cast<size_t>(out.shape[1]);
  const size_t K = static_cast<size_t>(n.a.ta ? a.shape[0] : a.shape[1]);
  const size_t lda = static_cast<size_t>(a.shape[1]), ldb = static_cast<size_t>(b.shape[1]);
  for (size_t i = 0; i < M; ++i)
    for (size_t j = 0; j < N; ++j) {
      double acc = 0;
      for (size_t k = 0; k < K; ++k) {
        const size_t ai = n.a.ta ? k * lda + i : i * lda + k, bi = n.a.tb ? j * ldb + k : k * ldb + j;
        T av = a.f[ai], bv = b.f[bi];
        if (mask && n.a.mask == 1 && !(mask->f[ai] > T(0))) av = T(0);
        if (mask && n.a.mask == 2 && !(mask->f[bi] > T(0))) bv = T(0);
        acc += static_cast<double>(av) * bv;
      }
      T v = static_cast<T>(acc);
      if (bias) v += bias->f[j];
      if (n.a.relu && !(v > T(0))) v = T(0);
      out.f[i * N + j] = v;
    }
}

template <class T>
void ref_MatMul(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  gemm_ref<T>(n, *in[0], *in[1], nullptr, nullptr, out);
}
template <class T>
void ref_MatMulSplitK(const Node& n, const Ins<T>& in, BasicValue<T>& out) {  // a [K, M] (ta) or [M, K], b [K, N]
  const BasicValue<T>& a = *in[0];
  const BasicValue<T>& b = *in[1];
  const bool ta = n.a.ta;
  const int64_t K = b.shape[0], M = a.shape[ta ? 1 : 0], N = b.shape[1], c = split_k_chunk(K, n.a.splits);
  for (int64_t s = 0; s < n.a.splits; ++s)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = s * c; k < std::min(K, (s + 1) * c); ++k)
          acc += static_cast<double>(a.f[static_cast<size_t>(ta ? k * M + i : i * K + k)]) *
                 b.f[static_cast<size_t>(k * N + j)];
        out.f[static_cast<size_t>((s * M + i) * N + j)] = static_cast<T>(acc);
      }
}
template <class T>
void ref_Dense(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  gemm_ref<T>(n, *in[0], *in[1], nullptr, in[2], out);
}
// p − lr·(op(A)·B) in the order the SGD step it replaces rounds: the product, times lr, from p.
template <class T>
void ref_MatMulUpdate(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  gemm_ref<T>(n, *in[0], *in[1], nullptr, nullptr, out);
  const T lr = in[3]->f[0];
  for (size_t i = 0; i < out.f.size(); ++i) out.f[i] = in[2]->f[i] - out.f[i] * lr;
}
template <class T>
void ref_MatMulMask(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  gemm_ref<T>(n, *in[0], *in[1], in[2], nullptr, out);
}

// Every elementwise map through its one definition (autodiff/elementwise.h), in T.
template <class T, Op op>
void ref_map(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const ScalarMath<T> m;
  if (in.size() == 1)
    map1(in, out, [&](T x) { return Def<op>::apply(m, x, T(0), n.a); });
  else
    map2(in, out, [&](T x, T y) { return Def<op>::apply(m, x, y, n.a); });
}

template <class T>
void ref_Dropout(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  if (!n.a.training || n.a.value == 0.f) {
    out.f = x.f;
    return;
  }
  const auto key = static_cast<uint32_t>(in[1]->i[0]);
  const uint32_t thr = dropout_threshold(n.a.value);
  const T scale = T(1) / (T(1) - static_cast<T>(n.a.value));
  for (size_t i = 0; i < x.f.size(); ++i)
    out.f[i] = dropout_keep(key, static_cast<uint32_t>(i + static_cast<size_t>(n.a.slice) * x.f.size()), thr)
                   ? x.f[i] * scale
                   : T(0);
}

template <class T>
void ref_Sum(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  reduce_sum(n, in, out, false);
}
template <class T>
void ref_Mean(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  reduce_sum(n, in, out, true);
}

template <class T>
void ref_Broadcast(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  if (n.a.axis == -1) {
    std::fill(out.f.begin(), out.f.end(), x.f[0]);
    return;
  }
  Split s = split(out.shape, n.a.axis);
  for (size_t o = 0; o < s.outer; ++o)
    for (size_t k = 0; k < s.n; ++k)
      for (size_t j = 0; j < s.inner; ++j) out.f[(o * s.n + k) * s.inner + j] = x.f[o * s.inner + j];
}

template <class T>
void ref_Reshape(const Node&, const Ins<T>& in, BasicValue<T>& out) {
  out.f = in[0]->f;
  out.i = in[0]->i;
}

template <class T>
void ref_Transpose(const Node&, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  const auto R = static_cast<size_t>(x.shape[0]), C = static_cast<size_t>(x.shape[1]);
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < C; ++c) out.f[c * R + r] = x.f[r * C + c];
}

template <class T>
void ref_Softmax(const Node&, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  const auto C = static_cast<size_t>(x.shape.cols()), R = static_cast<size_t>(x.shape.rows());
  for (size_t r = 0; r < R; ++r) {
    const T lse = logsumexp_row(&x.f[r * C], C);
    for (size_t j = 0; j < C; ++j) out.f[r * C + j] = std::exp(x.f[r * C + j] - lse);
  }
}

template <class T>
void ref_LogSoftmax(const Node&, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  const auto C = static_cast<size_t>(x.shape.cols()), R = static_cast<size_t>(x.shape.rows());
  for (size_t r = 0; r < R; ++r) {
    const T lse = logsumexp_row(&x.f[r * C], C);
    for (size_t j = 0; j < C; ++j) out.f[r * C + j] = x.f[r * C + j] - lse;
  }
}

template <class T>
void ref_OneHot(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const auto& y = in[0]->i;
  const auto D = static_cast<size_t>(n.a.depth);
  std::fill(out.f.begin(), out.f.end(), T(0));
  for (size_t r = 0; r < y.size(); ++r) {
    check_label(y[r], n.a.depth, n);
    out.f[r * D + static_cast<size_t>(y[r])] = T(1);
  }
}

template <class T>
void ref_SoftmaxXent(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  const auto& y = in[1]->i;
  const auto C = static_cast<size_t>(x.shape[1]), B = static_cast<size_t>(x.shape[0]);
  double total = 0;
  for (size_t r = 0; r < B; ++r) {
    check_label(y[r], x.shape[1], n);
    total += logsumexp_row(&x.f[r * C], C) - x.f[r * C + static_cast<size_t>(y[r])];
  }
  out.f[0] = static_cast<T>(total / static_cast<double>(B));
}

// (softmax(x) - onehot(y)) · scale: the logits gradient of softmax_xent in one pass.
template <class T>
void ref_SoftmaxXentGrad(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const BasicValue<T>& x = *in[0];
  const auto& y = in[1]->i;
  const T scale = in[2]->f[0];
  const auto C = static_cast<size_t>(x.shape[1]), B = static_cast<size_t>(x.shape[0]);
  for (size_t r = 0; r < B; ++r) {
    check_label(y[r], x.shape[1], n);
    const T lse = logsumexp_row(&x.f[r * C], C);
    for (size_t j = 0; j < C; ++j)
      out.f[r * C + j] = (std::exp(x.f[r * C + j] - lse) - (j == static_cast<size_t>(y[r]) ? T(1) : T(0))) * scale;
  }
}

template <class T>
void ref_SigmoidXent(const Node&, const Ins<T>& in, BasicValue<T>& out) {
  const auto& x = in[0]->f;
  const auto& z = in[1]->f;
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i)
    total += std::max(x[i], T(0)) - x[i] * z[i] + std::log1p(std::exp(-std::fabs(x[i])));
  out.f[0] = static_cast<T>(total / static_cast<double>(x.size()));
}

template <class T>
void ref_Conv2d(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const auto& x = in[0]->f;
  const auto& w = in[1]->f;
  std::vector<double> acc(out.f.size(), 0.0);
  conv_for_each(conv_geo(in[0]->shape, in[1]->shape, n.a),
                [&](size_t xi, size_t wi, size_t yi) { acc[yi] += static_cast<double>(x[xi]) * w[wi]; });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

template <class T>
void ref_Conv2dGradInput(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const auto& dy = in[0]->f;
  const auto& w = in[1]->f;
  std::vector<double> acc(out.f.size(), 0.0);
  conv_for_each(conv_geo(n.a.shape, in[1]->shape, n.a),
                [&](size_t xi, size_t wi, size_t yi) { acc[xi] += static_cast<double>(dy[yi]) * w[wi]; });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

template <class T>
void ref_Conv2dGradFilter(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const auto& x = in[0]->f;
  const auto& dy = in[1]->f;
  std::vector<double> acc(out.f.size(), 0.0);
  conv_for_each(conv_geo(in[0]->shape, n.a.shape, n.a),
                [&](size_t xi, size_t wi, size_t yi) { acc[wi] += static_cast<double>(x[xi]) * dy[yi]; });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

namespace {
// Calls f(y_index, x_index) for each output and each input element of its window inside the
// input, the window in row-major order (so the first maximum is the first one met).
template <class F>
void pool_for_each(const WindowGeo& g, F f) {
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          const auto yi = static_cast<size_t>(((b * g.OH + oh) * g.OW + ow) * g.C + c);
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t ih = oh * g.SH + kh - g.ph;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t iw = ow * g.SW + kw - g.pw;
              if (iw >= 0 && iw < g.W) f(yi, static_cast<size_t>(((b * g.H + ih) * g.W + iw) * g.C + c));
            }
          }
        }
}
// Each output's first maximal input element.
template <class T>
std::vector<size_t> pool_argmax(const WindowGeo& g, const std::vector<T>& x, size_t outputs) {
  std::vector<size_t> best(outputs, SIZE_MAX);
  pool_for_each(g, [&](size_t yi, size_t xi) {
    if (best[yi] == SIZE_MAX || x[xi] > x[best[yi]]) best[yi] = xi;
  });
  return best;
}
// The number of input elements in each output's window (padding is not counted).
std::vector<int64_t> pool_counts(const WindowGeo& g, size_t outputs) {
  std::vector<int64_t> count(outputs, 0);
  pool_for_each(g, [&](size_t yi, size_t) { ++count[yi]; });
  return count;
}
}  // namespace

template <class T>
void ref_MaxPool2d(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const std::vector<size_t> best = pool_argmax(window_geo(in[0]->shape, n.a), in[0]->f, out.f.size());
  for (size_t i = 0; i < out.f.size(); ++i) out.f[i] = in[0]->f[best[i]];
}

template <class T>
void ref_MaxPool2dGrad(const Node& n, const Ins<T>& in, BasicValue<T>& out) {  // in: x, dy
  const std::vector<T>& dy = in[1]->f;
  const std::vector<size_t> best = pool_argmax(window_geo(in[0]->shape, n.a), in[0]->f, dy.size());
  std::vector<double> acc(out.f.size(), 0.0);
  for (size_t i = 0; i < dy.size(); ++i) acc[best[i]] += dy[i];
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

template <class T>
void ref_AvgPool2d(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const WindowGeo g = window_geo(in[0]->shape, n.a);
  const std::vector<int64_t> count = pool_counts(g, out.f.size());
  std::vector<double> acc(out.f.size(), 0.0);
  pool_for_each(g, [&](size_t yi, size_t xi) { acc[yi] += in[0]->f[xi]; });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i] / static_cast<double>(count[i]));
}

template <class T>
void ref_AvgPool2dGrad(const Node& n, const Ins<T>& in, BasicValue<T>& out) {  // in: dy; n.a.shape: x's
  const WindowGeo g = window_geo(n.a.shape, n.a);
  const std::vector<T>& dy = in[0]->f;
  const std::vector<int64_t> count = pool_counts(g, dy.size());
  std::vector<double> acc(out.f.size(), 0.0);
  pool_for_each(g, [&](size_t yi, size_t xi) { acc[xi] += dy[yi] / static_cast<double>(count[yi]); });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

namespace {
// Calls f(row, col, x_index or -1 for padding) for every entry of im2col's [B·OH·OW, KH·KW·C].
template <class F>
void im2col_for_each(const WindowGeo& g, F f) {
  const int64_t K = g.KH * g.KW * g.C;
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t row = (b * g.OH + oh) * g.OW + ow;
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw)
            for (int64_t c = 0; c < g.C; ++c) {
              const int64_t ih = oh * g.SH + kh - g.ph, iw = ow * g.SW + kw - g.pw;
              const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
              f(static_cast<size_t>(row * K + (kh * g.KW + kw) * g.C + c),
                inside ? static_cast<int64_t>(((b * g.H + ih) * g.W + iw) * g.C + c) : int64_t{-1});
            }
      }
}
}  // namespace

template <class T>
void ref_Im2Col(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const std::vector<T>& x = in[0]->f;
  im2col_for_each(window_geo(in[0]->shape, n.a),
                  [&](size_t ci, int64_t xi) { out.f[ci] = xi < 0 ? T(0) : x[static_cast<size_t>(xi)]; });
}

template <class T>
void ref_Col2Im(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  const std::vector<T>& cols = in[0]->f;
  std::vector<double> acc(out.f.size(), 0.0);
  im2col_for_each(window_geo(n.a.shape, n.a), [&](size_t ci, int64_t xi) {
    if (xi >= 0) acc[static_cast<size_t>(xi)] += cols[ci];
  });
  for (size_t i = 0; i < acc.size(); ++i) out.f[i] = static_cast<T>(acc[i]);
}

// One process's allreduce: the sum over the one rank is the input; `value` is the scale (1/ranks
// for a mean). Data-parallel runs execute it with MPI in the JIT Program (runtime/collectives.h).
template <class T>
void ref_AllReduce(const Node& n, const Ins<T>& in, BasicValue<T>& out) {
  map1(in, out, [s = static_cast<T>(n.a.value)](T x) { return x * s; });
}

namespace {
// A map op runs its Def; every other op its own ref_ function (named in a generic lambda that is
// never instantiated for a map op, which has none).
template <class T, Op op, OpKind kind, class Own>
constexpr RefFn<T> ref_entry(Own own) {
  if constexpr (is_map_op(op, kind))
    return &ref_map<T, op>;
  else
    return own(0);
}
}  // namespace

template <class T>
RefFn<T> ref_kernel(Op op) {
  static constexpr RefFn<T> kFns[] = {
#define GRADC_REF_ROW(E, name, arity, kind, diff) ref_entry<T, Op::E, OpKind::kind>([](auto) { return &ref_##E<T>; }),
      GRADC_OPS(GRADC_REF_ROW)
#undef GRADC_REF_ROW
  };
  return kFns[static_cast<size_t>(op)];
}

template RefFn<float> ref_kernel<float>(Op);
template RefFn<double> ref_kernel<double>(Op);

}  // namespace gradc
