#include "models/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "models/data_split.h"
#include "models/metadata.h"
#include "models/params.h"
#include "models/trainer_impl.h"
#include "runtime/checksum.h"
#include "runtime/files.h"
#include "runtime/threads.h"

namespace gradc {

float Schedule::lr_at(float base, int64_t step, int64_t epoch, int64_t total) const {
  switch (kind) {
    case Kind::Constant:
      return base;
    case Kind::Exponential: {
      double p = static_cast<double>(step) / static_cast<double>(decay_steps);
      if (staircase) p = std::floor(p);
      return static_cast<float>(base * std::pow(static_cast<double>(rate), p));
    }
    case Kind::PerEpoch:
      return static_cast<float>(base * std::pow(static_cast<double>(rate), static_cast<double>(epoch)));
    case Kind::OneCycle: {
      if (total <= 0) return base;
      const int64_t up = std::max<int64_t>(1, std::llround(static_cast<double>(warmup) * static_cast<double>(total)));
      if (step < up) return static_cast<float>(base * static_cast<double>(step + 1) / static_cast<double>(up));
      if (total <= up) return base;
      return static_cast<float>(base * static_cast<double>(std::max<int64_t>(total - step, 0)) /
                                static_cast<double>(total - up));
    }
  }
  return base;
}

Schedule::Kind parse_schedule(const std::string& s) {
  if (s == "constant") return Schedule::Kind::Constant;
  if (s == "exponential") return Schedule::Kind::Exponential;
  if (s == "per-epoch") return Schedule::Kind::PerEpoch;
  if (s == "one-cycle") return Schedule::Kind::OneCycle;
  throw std::invalid_argument("gradc: unknown schedule '" + s + "' (use constant, exponential, per-epoch, one-cycle)");
}

const char* schedule_name(Schedule::Kind k) {
  switch (k) {
    case Schedule::Kind::Constant:
      return "constant";
    case Schedule::Kind::Exponential:
      return "exponential";
    case Schedule::Kind::PerEpoch:
      return "per-epoch";
    case Schedule::Kind::OneCycle:
      return "one-cycle";
  }
  return "?";
}

double metric_of(const PeriodRow& r, const std::string& name) {
  if (name == "loss") return r.train_loss;
  if (name == "acc") return r.train_acc;
  if ((name == "val_loss" || name == "val_acc") && !r.has_val)
    throw std::invalid_argument("gradc: metric '" + name + "' needs a validation set (--val-n or --val-fraction)");
  if (name == "val_loss") return r.val_loss;
  if (name == "val_acc") return r.val_acc;
  throw std::invalid_argument("gradc: unknown metric '" + name + "' (use loss, acc, val_loss, val_acc)");
}

bool metric_higher_is_better(const std::string& name) { return name == "acc" || name == "val_acc"; }

Trainer::Trainer(std::string name, ModelFn build, FitConfig cfg)
    : name_(std::move(name)), build_(std::move(build)), cfg_(std::move(cfg)), impl_(std::make_unique<Impl>()) {
  if (cfg_.batch < 1) throw std::invalid_argument("gradc: the batch size must be at least 1");
  if (cfg_.threads != 0) check_threads(cfg_.threads, "--threads");  // 0: OpenMP's default
  impl_->comm = &world();
  const int n = impl_->comm->size();
  if (cfg_.batch % n != 0)
    throw std::invalid_argument("gradc: --batch " + std::to_string(cfg_.batch) + " is not divisible by the " +
                                std::to_string(n) + " ranks (each rank trains on an equal slice of the global batch)");
  if (n > 1 && cfg_.engine != EngineKind::Jit)
    throw std::invalid_argument("gradc: data-parallel training runs on the JIT engine (drop --engine reference)");
  impl_->local_batch = cfg_.batch / n;
  impl_->model =
      build_fed_model(name_, build_, {.batch = impl_->local_batch, .training = true, .seed = cfg_.seed}, cfg_.feeds);
  Model& m = *impl_->model;
  // The summed loss of the global batch (TF1 estimators): each rank scales its slice's mean by the
  // global batch; the allreduce's mean over ranks then gives exactly the one-process objective.
  if (cfg_.sum_loss) cfg_.opt.loss_scale = static_cast<float>(cfg_.batch);
  cfg_.opt.ranks = n;
  cfg_.opt.bucket_bytes = cfg_.bucket_bytes;
  impl_->ts = add_optimizer(m.loss, cfg_.opt);
  for (Node& nd : m.g.nodes())  // rank r's rows of the global batch draw the one-process mask elements
    if (nd.op == Op::Dropout) nd.a.slice = impl_->comm->rank();
  m.g.mark_output(impl_->ts.total_loss, "total_loss");
  CompileOptions co;
  co.fuse = cfg_.fuse && !cfg_.check_numerics;
  co.bf16 = cfg_.bf16;
  co.plan_memory = !cfg_.check_numerics;  // every intermediate inspectable
  co.passes = cfg_.passes;
  const auto t = Clock::now();
  impl_->engine = make_engine(m.g, cfg_.engine, co);
  impl_->compile_ms = cfg_.engine == EngineKind::Jit ? secs(t, Clock::now()) * 1000 : 0;
  impl_->engine->set_threads(cfg_.threads);
  impl_->x = m.g.find_id(cfg_.feeds.x);
  impl_->y = m.g.find_id(cfg_.feeds.y);
  impl_->key = m.g.find_id(cfg_.feeds.dropout_key);
  impl_->eval = std::make_unique<Evaluator>(name_, build_, cfg_.feeds, cfg_.engine, cfg_.threads, cfg_.eval_batch);
  impl_->classes = impl_->eval->classes();
}

Trainer::~Trainer() = default;

const Graph& Trainer::graph() const { return impl_->model->g; }
const TrainStep& Trainer::train_step() const { return impl_->ts; }
void Trainer::add_callback(std::shared_ptr<Callback> cb) { callbacks_.push_back(std::move(cb)); }
double Trainer::running_loss() const { return run_steps_ ? run_loss_ / static_cast<double>(run_steps_) : 0; }
double Trainer::running_acc() const {
  return run_count_ ? static_cast<double>(run_correct_) / static_cast<double>(run_count_) : 0;
}
double Trainer::seconds() const { return secs(impl_->t0, Clock::now()); }

void Trainer::check_data(const Dataset& d, const std::string& what) const { impl_->eval->check(d, what); }

std::vector<NamedTensor> Trainer::state() { return snapshot(graph(), *impl_->engine, true); }

std::vector<NamedTensor> Trainer::weights(bool eval) {
  return eval ? eval_weights(state(), true) : snapshot(graph(), *impl_->engine, false);
}

void Trainer::set_weights(const std::vector<NamedTensor>& w, const std::string& from) {
  restore(graph(), *impl_->engine, w, from);
  for (const NamedTensor& t : w)  // the EMA copies too, so evaluation uses exactly these weights
    if (const int id = graph().find_id(t.name + "/ema"); id >= 0 && graph().node(id).shape == t.shape) {
      auto d = impl_->engine->f32(id);
      std::copy(t.data.begin(), t.data.end(), d.begin());
    }
}

int Trainer::rank() const { return impl_->comm->rank(); }
int Trainer::ranks() const { return impl_->comm->size(); }

Trainer::RunningSums Trainer::global_running() {
  double v[3] = {run_loss_, static_cast<double>(run_correct_), static_cast<double>(run_count_)};
  impl_->comm->sum(v, 3);  // exact for the counts (< 2^53)
  return {v[0] / ranks(), static_cast<int64_t>(v[1]), static_cast<int64_t>(v[2])};
}

uint64_t Trainer::check_ranks_agree(const std::string& when) {
  Fnv1a sum;  // over every parameter and optimizer state value
  for (const NamedTensor& t : state()) sum.add(t.data);
  const uint64_t h = sum.value();
  if (ranks() == 1) return h;
  uint64_t lo = 0, hi = 0;
  impl_->comm->min_max(h, &lo, &hi);
  if (lo != hi)
    throw std::runtime_error("gradc: the ranks' weights differ " + when + " (parameter checksums " +
                             std::to_string(lo) + " .. " + std::to_string(hi) + "); the run is stopped");
  return h;
}

void Trainer::save(const std::string& path, double val_loss) {
  const RunningSums run = global_running();
  if (rank() != 0) return;
  Checkpoint c;
  c.tensors = state();
  c.metadata = cfg_.metadata;
  c.metadata["format"] = "gradc-1";
  c.metadata["model"] = name_;
  c.metadata["step"] = std::to_string(step_);
  c.metadata["epoch"] = std::to_string(step_ == 0 ? 0 : (step_ - 1) / per_epoch_ + 1);
  c.metadata["seed"] = std::to_string(cfg_.seed);
  c.metadata["batch"] = std::to_string(cfg_.batch);
  c.metadata["optimizer"] = optimizer_name(cfg_.opt.kind);
  c.metadata["val_loss"] = std::to_string(val_loss);
  c.metadata["state.run_loss"] = exact(run.loss);
  c.metadata["state.run_steps"] = std::to_string(run_steps_);
  c.metadata["state.run_correct"] = std::to_string(run.correct);
  c.metadata["state.run_count"] = std::to_string(run.count);
  if (stop_saved_) c.metadata["state.stop_reason"] = stop_reason_;
  for (const auto& cb : callbacks_) cb->save_state(c.metadata);
  save_checkpoint(path, c);
}

void Trainer::checkpoint(double val_loss) {
  check_ranks_agree("at the checkpoint of step " + std::to_string(step_));
  save(cfg_.checkpoint_dir + "/last.safetensors", val_loss);
  if (cfg_.keep_last <= 0) return;
  save(cfg_.checkpoint_dir + "/" + numbered_checkpoint(step_), val_loss);
  if (rank() != 0) return;
  if (!impl_->numbered) impl_->numbered.emplace(cfg_.checkpoint_dir, impl_->resumed_in_place);
  impl_->numbered->add(step_, cfg_.keep_last);
}

void Trainer::resume(const Checkpoint& c, const std::string& path) {
  std::filesystem::path from = std::filesystem::path(path).parent_path();
  if (from.empty()) from = ".";
  std::error_code ec;  // a checkpoint_dir that does not exist yet is not where it came from
  impl_->resumed_in_place = !cfg_.checkpoint_dir.empty() && std::filesystem::equivalent(from, cfg_.checkpoint_dir, ec);
  impl_->resumed_in_place =
      !cfg_.checkpoint_dir.empty() && std::filesystem::equivalent(std::filesystem::path(path).parent_path().empty()
                                                                      ? std::filesystem::path(".")
                                                                      : std::filesystem::path(path).parent_path(),
                                                                  cfg_.checkpoint_dir, ec);
  if (auto it = c.metadata.find("model"); it == c.metadata.end() || it->second != name_)
    throw DataError("gradc: " + path + ": a '" + (it == c.metadata.end() ? "(unnamed)" : it->second) +
                    "' checkpoint, not '" + name_ + "'");
  constexpr int64_t kMax = int64_t{1} << 53;
  start_step_ = step_ = metadata_int(c.metadata, "step", kMax, path);
  // The sums are the whole global batch's: rank 0 carries them (scaled so that the mean over ranks
  // of the per-step losses is right), the other ranks start from zero, whatever the rank count was.
  const int64_t first = rank() == 0 ? 1 : 0;
  run_loss_ = static_cast<double>(first * ranks()) *
              metadata_real_in(c.metadata, "state.run_loss", path, 0, std::numeric_limits<double>::max());
  run_steps_ = metadata_int(c.metadata, "state.run_steps", kMax, path);
  run_correct_ = first * metadata_int(c.metadata, "state.run_correct", kMax, path);
  run_count_ = first * metadata_int(c.metadata, "state.run_count", kMax, path);
  for (const auto& cb : callbacks_) cb->load_state(c.metadata, path);
  auto stopped = c.metadata.find("state.stop_reason");
  resumed_stop_ = stopped == c.metadata.end() ? "" : stopped->second;
  restore(graph(), *impl_->engine, c.tensors, path, true);
}

Metrics Trainer::run_eval(const std::vector<NamedTensor>& w, const Dataset& d, std::vector<float>* logits) {
  return impl_->eval->run(w, d, logits);
}

Metrics Trainer::evaluate(const Dataset& d, std::vector<float>* logits) {
  check_data(d, "evaluation data");
  return run_eval(weights(true), d, logits);
}

std::vector<float> Trainer::predict(const Dataset& d) {
  check_data(d, "prediction data");
  std::vector<float> out;
  run_eval(weights(true), d, &out);
  return out;
}

}  // namespace gradc
