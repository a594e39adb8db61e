#include "models/train.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"
#include "models/callbacks.h"
#include "models/metadata.h"
#include "models/models.h"
#include "models/params.h"
#include "models/resume.h"
#include "runtime/comm.h"
#include "runtime/files.h"

namespace gradc {

namespace {
void print_header(const TrainConfig& c, const Splits& s) {
  const std::string arch = arch_text(c.arch, find_model(c.model).kind);
  std::printf("training %s%s on %s: %lld train / %lld val / %lld test, batch %lld, %s lr %g, engine %s\n",
              c.model.c_str(), arch.empty() ? "" : (" (" + arch + ")").c_str(), c.dataset.c_str(),
              static_cast<long long>(s.train.n), static_cast<long long>(s.val.n), static_cast<long long>(s.test.n),
              static_cast<long long>(c.batch), optimizer_name(c.opt.kind), static_cast<double>(c.lr),
              c.engine == EngineKind::Jit ? "jit" : "reference");
}

// The recipe's callbacks, in the order they act at an evaluation point: log, keep the best, reduce
// the rate, stop; then the caller's (a report).
// In a data-parallel run every rank runs the same callbacks (their decisions agree, the metrics
// being global); rank 0 alone prints and writes files.
std::shared_ptr<BestWeights> add_callbacks(Trainer& t, TrainConfig& c, const Splits& s) {
  const bool lead = t.rank() == 0;
  c.verbose = c.verbose && lead;
  auto header = std::make_shared<LambdaCallback>();  // after fit()'s checks, before the first step
  header->train_begin = [&c, &s](Trainer& tr) {
    if (!c.verbose) return;
    if (tr.ranks() > 1)
      std::printf("data-parallel: %d ranks (%s), %lld examples per rank per step\n", tr.ranks(),
                  world().describe().c_str(), static_cast<long long>(c.batch / tr.ranks()));
    if (tr.start_step() > 0)
      std::printf("resumed %s/last.safetensors at step %lld\n", c.resume_dir.c_str(),
                  static_cast<long long>(tr.start_step()));
    print_header(c, s);
  };
  t.add_callback(header);
  // mpirun hands its ranks a pseudo-terminal even when the job's output goes to a file: no bar there.
  if (c.verbose) t.add_callback(std::make_shared<ProgressLogger>(isatty(fileno(stdout)) != 0 && !under_mpirun()));
  std::shared_ptr<BestWeights> best;
  if (c.keep_best) t.add_callback(best = std::make_shared<BestWeights>(c.checkpoint_dir, "val_loss", c.verbose));
  if (c.plateau_factor > 0)
    t.add_callback(std::make_shared<ReduceLROnPlateau>(c.monitor, c.plateau_factor, c.patience, 0, c.verbose));
  if (c.early_stop) t.add_callback(std::make_shared<EarlyStopping>(c.monitor, c.patience, 0, c.verbose));
  if (!c.csv_log.empty() && lead) t.add_callback(std::make_shared<CSVLogger>(c.csv_log));
  if (lead)
    for (const auto& cb : c.callbacks) t.add_callback(cb);
  return best;
}
}  // namespace

TrainResult train(TrainConfig cfg) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const auto t_load = Clock::now();
  const Splits s = load_splits(cfg, cfg.seed);
  const double load_seconds = since(t_load);
  const auto t0 = Clock::now();
  cfg.data_fingerprint = data_fingerprint(s.train);
  if (!cfg.resume_dir.empty() && cfg.checkpoint_dir.empty()) cfg.checkpoint_dir = cfg.resume_dir;
  const ModelSpec& spec = find_model(cfg.model);
  if (spec.kind != ArchKind::Fixed) cfg.metadata["arch"] = arch_text(cfg.arch, spec.kind);
  add_recipe(cfg.metadata, cfg);
  Trainer t(cfg.model, spec.fn(cfg.arch), cfg);
  const std::shared_ptr<BestWeights> best = add_callbacks(t, cfg, s);
  if (!cfg.resume_dir.empty()) {
    const std::string path = cfg.resume_dir + "/last.safetensors";
    const Checkpoint c = load_checkpoint(path);
    validate_resume(c, path, cfg);
    t.resume(c, path);
  }
  TrainResult r;
  static_cast<FitResult&>(r) = t.fit(s.train, s.val);
  if (t.ranks() > 1 && cfg.verbose)
    std::printf("weights bit-identical on all %d ranks (checksum %016llx)\n", t.ranks(),
                static_cast<unsigned long long>(r.checksum));
  r.final_params = t.weights(true);
  if (best && best->restored()) r.kept_step = best->best_step();
  const auto t_eval = Clock::now();
  if (s.val.n > 0) r.val = t.evaluate(s.val);
  r.test = t.evaluate(s.test, cfg.keep_test_logits ? &r.test_logits : nullptr);
  r.eval_seconds = since(t_eval);
  r.to_test_seconds = since(t0);
  r.load_seconds = load_seconds;
  if (!cfg.checkpoint_dir.empty() && t.rank() == 0) {
    Checkpoint c;
    c.tensors = r.final_params;
    c.metadata = cfg.metadata;  // the recipe and the architecture
    c.metadata["format"] = "gradc-1";
    c.metadata["model"] = cfg.model;
    c.metadata["step"] = std::to_string(r.steps);
    c.metadata["test_accuracy"] = std::to_string(r.test.accuracy());
    if (r.kept_step > 0) c.metadata["kept_step"] = std::to_string(r.kept_step);  // keep-best's weights
    save_checkpoint(cfg.checkpoint_dir + "/final.safetensors", c);
  }
  return r;
}

Metrics evaluate(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights, const Dataset& d,
                 EngineKind engine, int threads, const std::string& source, std::vector<float>* logits) {
  Evaluator ev(model, find_model(model).fn(arch), {}, engine, threads);
  return ev.run(weights, d, logits, source);
}

std::vector<float> input_gradient(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights,
                                  const Dataset& d, int cls, const std::string& source) {
  auto m = build_model(model, {.batch = 1, .training = false}, arch);
  Graph& g = m->g;
  const Shape ls = m->logits.node().shape;
  std::vector<float> pick(static_cast<size_t>(ls.numel()), 0.f);
  pick.at(static_cast<size_t>(cls)) = 1.f;
  const Tensor score = sum(m->logits * constant_data(g, ls, pick));
  const Tensor x = g.tensor(g.find_id(Feeds{}.x));
  const Tensor dx = grad(score, {x})[0];
  g.outputs() = {};
  g.mark_output(dx, "saliency");
  check_weights(g, weights, source);
  auto e = make_engine(g, EngineKind::Jit);
  restore(g, *e, weights, source);
  auto xs = e->f32(x.id);
  std::copy(d.x.begin(), d.x.begin() + static_cast<int64_t>(xs.size()), xs.begin());
  e->run();
  const auto out = e->f32(dx.id);
  return std::vector<float>(out.begin(), out.end());
}

std::vector<double> predict_probs(const std::string& model, const Arch& arch, const std::vector<NamedTensor>& weights,
                                  const Dataset& d, const std::string& source) {
  Evaluator ev(model, find_model(model).fn(arch), {}, EngineKind::Jit, 0, 1);
  std::vector<float> logits;
  ev.run(weights, slice(d, 0, 1), &logits, source);
  if (ev.head() == Head::OneVsAll) {  // each class's own sigmoid
    std::vector<double> p;
    for (float z : logits) p.push_back(1.0 / (1.0 + std::exp(-static_cast<double>(z))));
    return p;
  }
  return softmax_row(logits);
}

Arch arch_of(const Checkpoint& c, const std::string& model, const std::string& path) {
  const ModelSpec& spec = find_model(model);
  auto it = c.metadata.find("arch");
  if (it == c.metadata.end()) return spec.arch;
  try {
    return parse_arch(it->second, spec.kind);
  } catch (const std::invalid_argument& e) {
    throw DataError("gradc: " + path + ": metadata 'arch': " + std::string(e.what()).substr(7));
  }
}

}  // namespace gradc
