#include "runtime/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gradc {

std::vector<double> softmax_row(std::span<const float> x) {
  const double m = *std::max_element(x.begin(), x.end());
  std::vector<double> p(x.size());
  double s = 0;
  for (size_t j = 0; j < x.size(); ++j) s += p[j] = std::exp(static_cast<double>(x[j]) - m);
  for (double& v : p) v /= s;
  return p;
}

namespace {
// -log σ(-t) = log(1 + e^t) without overflow: a binary log-loss term.
double softplus(double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::abs(t))); }

// The rows of a [rows, classes] logits block: the predicted class is the highest logit; `loss(row,
// y)` is the row's loss term.
template <class Loss>
void add_rows(Metrics& m, std::span<const float> logits, std::span<const int32_t> labels, int64_t rows, Loss loss) {
  const auto C = static_cast<size_t>(m.classes);
  for (int64_t r = 0; r < rows; ++r) {
    auto row = logits.subspan(static_cast<size_t>(r) * C, C);
    const auto pred = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    const int32_t y = labels[static_cast<size_t>(r)];
    m.loss_sum += loss(row, y);
    m.correct += pred == y;
    ++m.confusion[static_cast<size_t>(y) * C + static_cast<size_t>(pred)];
    ++m.count;
  }
}
}  // namespace

void Metrics::add(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows) {
  add_rows(*this, logits, labels, rows, [](std::span<const float> row, int32_t y) {
    const double m = *std::max_element(row.begin(), row.end());
    double s = 0;
    for (float v : row) s += std::exp(static_cast<double>(v) - m);
    return m + std::log(s) - row[static_cast<size_t>(y)];
  });
}

void Metrics::add_binary(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    const double z = logits[static_cast<size_t>(r)];
    const int32_t y = labels[static_cast<size_t>(r)];
    const int32_t pred = z > 0 ? 1 : 0;
    // -log σ(z) for y = 1, -log(1 - σ(z)) = -log σ(-z) for y = 0, as softplus(∓z) without overflow.
    loss_sum += softplus(y == 1 ? -z : z);
    correct += pred == y;
    ++confusion[static_cast<size_t>(y) * 2 + static_cast<size_t>(pred)];
    ++count;
  }
}

void Metrics::add_one_vs_all(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows) {
  add_rows(*this, logits, labels, rows, [](std::span<const float> row, int32_t y) {
    double loss = 0;  // softplus(-z) for the true class, softplus(z) for the others
    for (size_t k = 0; k < row.size(); ++k)
      loss += softplus(static_cast<int32_t>(k) == y ? -static_cast<double>(row[k]) : static_cast<double>(row[k]));
    return loss;
  });
}

std::string Metrics::confusion_text() const {
  std::string s = "true\\pred";
  char buf[32];
  for (int j = 0; j < classes; ++j) {
    std::snprintf(buf, sizeof buf, "%6d", j);
    s += buf;
  }
  s += "\n";
  for (int i = 0; i < classes; ++i) {
    std::snprintf(buf, sizeof buf, "%9d", i);
    s += buf;
    for (int j = 0; j < classes; ++j) {
      std::snprintf(buf, sizeof buf, "%6lld", static_cast<long long>(confusion[static_cast<size_t>(i * classes + j)]));
      s += buf;
    }
    s += "\n";
  }
  return s;
}

}  // namespace gradc
