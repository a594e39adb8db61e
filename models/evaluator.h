// Evaluation of any model graph the Trainer accepts, with given weights, over every example of a
// dataset (the last partial batch is padded and counts only its real rows). One compiled inference
// graph per batch size, built on first use and reused.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/models.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/metrics.h"

namespace gradc {

// The names of the graph inputs the Trainer and Evaluator feed.
struct Feeds {
  std::string x = "x";                      // f32 [batch, ...]: the dataset's features
  std::string y = "y";                      // i32 [batch]: the dataset's labels
  std::string dropout_key = "dropout_key";  // i32 scalar, optional: a new key every step
};

// Builds `name` at mo.batch and checks what training and evaluation rely on: a scalar f32 loss,
// [batch, C] logits, the fed inputs with their dtypes and shapes, no other input. Throws
// std::invalid_argument naming the model and the tensor.
std::unique_ptr<Model> build_fed_model(const std::string& name, const ModelFn& build, const ModelOptions& mo,
                                       const Feeds& feeds);

class Evaluator {
 public:
  Evaluator(std::string name, ModelFn build, Feeds feeds = {}, EngineKind engine = EngineKind::Jit, int threads = 0,
            int64_t max_batch = 500);
  // Metrics of `w` on `d`; `logits` (optional) receives [d.n, C]. `source` names the weights in errors.
  Metrics run(const std::vector<NamedTensor>& w, const Dataset& d, std::vector<float>* logits = nullptr,
              const std::string& source = "weights");
  // Named DataError unless `d` has this model's features per example and labels in [0, classes).
  void check(const Dataset& d, const std::string& what) const;
  int classes() const { return classes_; }        // 2 for a one-logit (sigmoid) model
  int64_t features() const { return features_; }  // values per example of the input
  int64_t logit_columns() const { return columns_; }
  Head head() const { return head_; }  // how the logits score the classes

 private:
  struct Compiled {
    std::unique_ptr<Model> model;
    std::unique_ptr<Engine> engine;
  };
  std::string name_;
  ModelFn build_;
  Feeds feeds_;
  EngineKind engine_;
  int threads_;
  int64_t max_batch_, features_ = 0, columns_ = 0;
  int classes_ = 0;
  Head head_ = Head::Softmax;
  std::map<int64_t, Compiled> compiled_;
};

// Accuracy and log-loss of `rows` logit rows: softmax over C ≥ 2 columns, sigmoid for one column.
void add_rows(Metrics& m, std::span<const float> logits, std::span<const int32_t> labels, int64_t rows,
              Head head = Head::Softmax);

}  // namespace gradc
