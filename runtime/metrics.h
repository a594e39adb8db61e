// Classification metrics computed from logits on the host in double precision.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gradc {

struct Metrics {
  int64_t count = 0, correct = 0;
  double loss_sum = 0;             // Σ -log p(label)
  std::vector<int64_t> confusion;  // classes × classes, row = true label
  int classes = 10;

  explicit Metrics(int c = 10) : confusion(static_cast<size_t>(c * c), 0), classes(c) {}
  // Adds `rows` examples: logits row-major [rows, classes].
  void add(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows);
  // Adds `rows` examples of a one-logit (sigmoid) classifier: p(1) = σ(z), predicted class z > 0;
  // classes must be 2.
  void add_binary(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows);
  // Adds `rows` examples of one-vs-all classifiers (one sigmoid per class, [rows, classes] logits):
  // the predicted class is the highest score; the loss is the training objective, the sum over the
  // classes of each one's binary log-loss (against "is it this class").
  void add_one_vs_all(std::span<const float> logits, std::span<const int32_t> labels, int64_t rows);
  double accuracy() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0; }
  double log_loss() const { return count ? loss_sum / static_cast<double>(count) : 0; }
  std::string confusion_text() const;
};

// Softmax probabilities of one logits row.
std::vector<double> softmax_row(std::span<const float> logits);

}  // namespace gradc
