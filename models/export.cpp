#include "models/export.h"

#include <stdexcept>

#include "models/evaluator.h"
#include "models/metadata.h"
#include "models/params.h"
#include "models/train.h"
#include "runtime/data_error.h"
#include "runtime/init.h"

namespace gradc {

namespace {
// The training step as the Trainer builds it on one process, with every parameter's values: the
// checkpoint's where it has them, a fresh run's initial optimizer state where it does not.
AotModule export_step(ExportRequest& req) {
  const ModelSpec& spec = find_model(req.model);
  Feeds feeds;
  auto m = build_fed_model(req.model, spec.fn(req.arch), {.batch = req.batch, .training = true}, feeds);
  if (req.sum_loss) req.opt.loss_scale = static_cast<float>(req.batch);
  add_optimizer(m->loss, req.opt);
  check_weights(m->g, req.weights, req.source);
  for (NamedTensor& t : req.weights) req.aot.params[t.name] = std::move(t.data);
  for (const Node& n : m->g.nodes())
    if (n.op == Op::Parameter && !req.aot.params.count(n.name)) req.aot.params[n.name] = init_param(n);
  req.aot.input = feeds.x;
  req.aot.labels = feeds.y;
  req.aot.key = feeds.dropout_key;
  req.aot.train_step = true;
  req.aot.classes = m->logits.node().shape[1] == 1 ? 2 : m->logits.node().shape[1];
  req.aot.output = m->loss.id;
  return compile_aot(m->g, req.aot, req.compile);
}
}  // namespace

OptimizerConfig checkpoint_optimizer(const Checkpoint& c, const std::string& model, const std::string& path,
                                     bool* sum_loss) {
  const TrainConfig base = recipe(model);
  OptimizerConfig o = base.opt;
  *sum_loss = base.sum_loss;
  auto field = [&](const char* k) -> const std::string* {
    auto it = c.metadata.find(std::string("recipe.") + k);
    return it == c.metadata.end() ? nullptr : &it->second;
  };
  // The fields as the recipe stored them, in the ranges gradc train accepts (models/metadata.h).
  auto number = [&](const char* k, float& v, double hi) {
    if (field(k)) v = static_cast<float>(metadata_real_in(c.metadata, std::string("recipe.") + k, path, 0, hi));
  };
  try {
    if (const std::string* s = field("optimizer")) o.kind = parse_optimizer(*s);
  } catch (const std::invalid_argument& e) {
    throw DataError("gradc: " + path + ": metadata recipe.optimizer: " + e.what());
  }
  number("momentum", o.momentum, 1);
  number("clip", o.clip_norm, 1e30);
  number("l2", o.l2, 1e30);
  number("ema", o.ema_decay, 0.99999);
  if (const std::string* s = field("loss_reduction")) *sum_loss = *s == "sum";
  return o;
}

AotModule export_model(ExportRequest req) {
  if (req.batch < 1 || req.batch > 65536) throw std::invalid_argument("gradc: export: --batch must be in 1..65536");
  if (req.train_step) return export_step(req);
  auto m = build_model(req.model, {.batch = req.batch, .training = false}, req.arch);
  m->g.outputs() = {m->logits.id};  // the loss and its labels are not part of prediction
  check_weights(m->g, req.weights, req.source);
  for (NamedTensor& t : req.weights) req.aot.params[t.name] = std::move(t.data);
  req.aot.input = Feeds{}.x;
  req.aot.output = m->logits.id;
  return compile_aot(m->g, req.aot, req.compile);
}

}  // namespace gradc
