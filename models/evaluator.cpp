#include "models/evaluator.h"

#include <algorithm>

#include "models/params.h"

namespace gradc {

void add_rows(Metrics& m, std::span<const float> logits, std::span<const int32_t> labels, int64_t rows, Head head) {
  if (static_cast<int64_t>(logits.size()) == rows)
    m.add_binary(logits, labels, rows);
  else if (head == Head::OneVsAll)
    m.add_one_vs_all(logits, labels, rows);
  else
    m.add(logits, labels, rows);
}

// Builds the training graph and checks what the Trainer relies on: a scalar loss, [B, C] logits,
// the fed inputs with their dtypes and shapes, and no input the data cannot provide.
std::unique_ptr<Model> build_fed_model(const std::string& name, const ModelFn& build, const ModelOptions& mo,
                                       const Feeds& feeds) {
  auto m = std::make_unique<Model>();
  m->g.seed = mo.seed;
  m->g.name = name;
  build(*m, mo);
  const std::string who = "gradc: model '" + name + "': ";
  if (!m->loss.valid() || m->loss.node().shape.numel() != 1 || m->loss.node().dtype != DType::F32)
    throw std::invalid_argument(who + "the loss must be a scalar f32 tensor" +
                                (m->loss.valid() ? " (it is " + m->loss.node().shape.str() + "; reduce it with mean())"
                                                 : " (set Model::loss)"));
  if (!m->logits.valid() || m->logits.node().shape.rank != 2 || m->logits.node().shape[0] != mo.batch)
    throw std::invalid_argument(who + "the logits must be [batch, classes] = [" + std::to_string(mo.batch) + ", C]" +
                                (m->logits.valid() ? ", not " + m->logits.node().shape.str() : ""));
  for (const Node& n : m->g.nodes()) {
    if (n.op != Op::Input) continue;
    if (n.name == feeds.x) {
      if (n.dtype != DType::F32 || n.shape.rank < 2 || n.shape[0] != mo.batch)
        throw std::invalid_argument(who + "input '" + n.name + "' must be f32 [batch, ...], not " + n.shape.str());
    } else if (n.name == feeds.y) {
      if (n.dtype != DType::I32 || n.shape.rank != 1 || n.shape[0] != mo.batch)
        throw std::invalid_argument(who + "label input '" + n.name + "' must be i32 [" + std::to_string(mo.batch) +
                                    "] (class indices), not " + (n.dtype == DType::I32 ? "i32 " : "f32 ") +
                                    n.shape.str());
    } else if (n.name == feeds.dropout_key) {
      if (n.dtype != DType::I32 || n.shape.numel() != 1)
        throw std::invalid_argument(who + "input '" + n.name + "' must be an i32 scalar (the dropout key)");
    } else if (n.name != "lr") {
      throw std::invalid_argument(who + "input '" + n.name + "' " + n.shape.str() + " (" + n.where +
                                  ") is not fed by the Trainer: it feeds '" + feeds.x + "' (features), '" + feeds.y +
                                  "' (labels) and '" + feeds.dropout_key + "'");
    }
  }
  if (m->g.find_id(feeds.x) < 0 || m->g.find_id(feeds.y) < 0)
    throw std::invalid_argument(who + "the graph needs an input '" + feeds.x + "' (features) and '" + feeds.y +
                                "' (labels)");
  m->g.mark_output(m->loss, "loss");
  m->g.mark_output(m->logits, "logits");
  return m;
}

Evaluator::Evaluator(std::string name, ModelFn build, Feeds feeds, EngineKind engine, int threads, int64_t max_batch)
    : name_(std::move(name)),
      build_(std::move(build)),
      feeds_(std::move(feeds)),
      engine_(engine),
      threads_(threads),
      max_batch_(std::max<int64_t>(1, max_batch)) {
  auto probe = build_fed_model(name_, build_, {.batch = 1, .training = false}, feeds_);  // shapes only
  features_ = probe->g.node(probe->g.find_id(feeds_.x)).shape.numel();
  columns_ = probe->logits.node().shape[1];
  classes_ = columns_ == 1 ? 2 : static_cast<int>(columns_);
  head_ = probe->head;
}

void Evaluator::check(const Dataset& d, const std::string& what) const {
  check_features(d, features_, "model '" + name_ + "'");
  for (int64_t i = 0; i < d.n; ++i) {
    const int32_t v = d.y[static_cast<size_t>(i)];
    if (v < 0 || v >= classes_)
      throw DataError("gradc: " + (d.source.empty() ? what : d.source) + ": label " + std::to_string(v) +
                      " of example " + std::to_string(i) + " is outside the model's classes [0, " +
                      std::to_string(classes_) + ")");
  }
}

Metrics Evaluator::run(const std::vector<NamedTensor>& w, const Dataset& d, std::vector<float>* logits,
                       const std::string& source) {
  check(d, "evaluation data");
  const int64_t eb = std::min<int64_t>(max_batch_, std::max<int64_t>(1, d.n));
  Compiled& c = compiled_[eb];
  if (!c.engine) {
    c.model = build_fed_model(name_, build_, {.batch = eb, .training = false}, feeds_);
    check_weights(c.model->g, w, source);  // before any buffer: a crafted arch may ask for gigabytes
    c.engine = make_engine(c.model->g, engine_);
    c.engine->set_threads(threads_);
  }
  restore(c.model->g, *c.engine, w, source);
  const int x = c.model->g.find_id(feeds_.x), y = c.model->g.find_id(feeds_.y);
  Metrics met(classes_);
  for (int64_t start = 0; start < d.n; start += eb) {
    const int64_t rows = std::min(eb, d.n - start);
    auto xs = c.engine->f32(x);
    std::fill(xs.begin(), xs.end(), 0.f);  // the padded tail of the last batch is not counted
    std::copy(d.x.begin() + start * d.features, d.x.begin() + (start + rows) * d.features, xs.begin());
    auto ys = c.engine->i32(y);
    std::fill(ys.begin(), ys.end(), 0);
    std::copy(d.y.begin() + start, d.y.begin() + start + rows, ys.begin());
    c.engine->run();
    auto out = c.engine->f32(c.model->logits.id).first(static_cast<size_t>(rows * columns_));
    add_rows(met, out, std::span<const int32_t>(d.y.data() + start, static_cast<size_t>(rows)), rows, c.model->head);
    if (logits) logits->insert(logits->end(), out.begin(), out.end());
  }
  return met;
}

}  // namespace gradc
