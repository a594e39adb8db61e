#include "models/train.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "autodiff/dsl.h"
#include "models/models.h"
#include "models/resume.h"
#include "runtime/files.h"

namespace gradc {

namespace {
using Clock = std::chrono::steady_clock;

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Stateless per-epoch permutation (Fisher-Yates on a seeded 64-bit engine): resuming at any step
// reproduces the same batches without saving RNG state.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[rng() % static_cast<uint64_t>(i + 1)]);
  return p;
}

std::vector<NamedTensor> snapshot(const Graph& g, Engine& e, bool include_state) {
  std::vector<NamedTensor> out;
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (include_state || n.role == Role::Param)) {
      auto d = e.f32(n.id);
      out.push_back({n.name, n.shape, std::vector<float>(d.begin(), d.end())});
    }
  return out;
}

// `with_state`: optimizer state and EMA (non-trainable parameters) must be present too (resume).
void restore(const Graph& g, Engine& e, const std::vector<NamedTensor>& ts, const std::string& from,
             bool with_state = false) {
  for (const NamedTensor& t : ts) {
    const int id = g.find_id(t.name);
    if (id < 0) continue;
    auto d = e.f32(id);
    if (g.node(id).shape != t.shape)
      throw DataError("gradc: " + from + ": tensor '" + t.name + "' has shape " + t.shape.str() + ", the model needs " +
                      g.node(id).shape.str());
    std::copy(t.data.begin(), t.data.end(), d.begin());
  }
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (with_state || n.role == Role::Param)) {
      bool found = false;
      for (const NamedTensor& t : ts) found |= t.name == n.name;
      if (!found)
        throw DataError("gradc: " + from + ": no tensor for " +
                        (n.role == Role::Param ? "parameter '" : "optimizer state '") + n.name + "'");
    }
}

// Finds the first computed node (in execution order) whose buffer holds a NaN/Inf; "" if none.
std::string first_nonfinite(const Graph& g, Engine& e) {
  for (const Node& n : g.nodes()) {
    if (n.dtype != DType::F32 || op_info(n.op).kind == OpKind::Source || !e.has_buffer(n.id)) continue;
    for (float v : e.f32(n.id))
      if (!std::isfinite(v))
        return "op '" + std::string(op_name(n.op)) + "'" + (n.name.empty() ? "" : " ('" + n.name + "')") + " node " +
               std::to_string(n.id) + " " + n.shape.str() + " from " + n.where;
  }
  return "";
}

void save(const std::string& path, const Graph& g, Engine& e, const TrainConfig& cfg, int64_t step, int64_t epoch,
          double val_loss, const LoopState& state) {
  Checkpoint c;
  c.tensors = snapshot(g, e, true);
  c.metadata = {{"format", "gradc-1"},
                {"model", cfg.model},
                {"step", std::to_string(step)},
                {"epoch", std::to_string(epoch)},
                {"seed", std::to_string(cfg.seed)},
                {"batch", std::to_string(cfg.batch)},
                {"optimizer", optimizer_name(cfg.opt.kind)},
                {"val_loss", std::to_string(val_loss)}};
  add_recipe(c.metadata, cfg);
  add_state(c.metadata, state);
  save_checkpoint(path, c);
}
}  // namespace

float Schedule::lr_at(float base, int64_t step, int64_t epoch) const {
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
  }
  return base;
}

Schedule::Kind parse_schedule(const std::string& s) {
  if (s == "constant") return Schedule::Kind::Constant;
  if (s == "exponential") return Schedule::Kind::Exponential;
  if (s == "per-epoch") return Schedule::Kind::PerEpoch;
  throw std::invalid_argument("gradc: unknown schedule '" + s + "' (use constant, exponential, per-epoch)");
}

Dataset load_named(const std::string& dataset, const std::string& data_dir, const std::string& split) {
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("GRADC_DATA");
    dir = env && *env ? env : "data";
  }
  if (dataset.rfind("csv:", 0) == 0) {  // csv:TRAIN.csv[,TEST.csv] in the tutorials' CSV format
    const std::string files = dataset.substr(4);
    const auto comma = files.find(',');
    const std::string train_file = files.substr(0, comma);
    const std::string test_file = comma == std::string::npos ? train_file : files.substr(comma + 1);
    if (train_file.empty() || test_file.empty())
      throw DataError("gradc: --dataset '" + dataset + "' names no file (use csv:TRAIN.csv[,TEST.csv])");
    return load_csv(split == "test" ? test_file : train_file);
  }
  if (dataset != "mnist" && dataset != "fashion-mnist")
    throw std::invalid_argument("gradc: unknown dataset '" + dataset +
                                "' (use mnist, fashion-mnist or csv:TRAIN.csv[,TEST.csv])");
  return load_mnist_dir(dir + "/" + dataset, split);
}

// The weights keep-best holds after a resume: best.safetensors' parameters, or their EMA copies
// when the run evaluates with EMA.
std::vector<NamedTensor> best_from(const std::string& path, const Graph& g, bool ema) {
  const Checkpoint c = load_checkpoint(path);
  std::vector<NamedTensor> out;
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && n.role == Role::Param) {
      const NamedTensor* t = c.find(ema ? n.name + "/ema" : n.name);
      if (!t || t->shape != n.shape) throw DataError("gradc: " + path + ": no usable tensor for '" + n.name + "'");
      out.push_back({n.name, n.shape, t->data});
    }
  return out;
}

std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Values per example of the model's input "x" ([batch, ...]).
int64_t per_example(const Graph& g) {
  const Shape& s = g.node(g.find_id("x")).shape;
  return s.numel() / s[0];
}

Metrics evaluate(const std::string& model, const std::vector<NamedTensor>& weights, const Dataset& d, EngineKind engine,
                 int threads, const std::string& source) {
  const int64_t eb = std::min<int64_t>(500, std::max<int64_t>(1, d.n));
  auto m = build_model(model, {.batch = eb, .training = false});
  check_features(d, per_example(m->g), "model '" + model + "'");
  auto e = make_engine(m->g, engine);
  e->set_threads(threads);
  restore(m->g, *e, weights, source);
  Metrics met;
  const int x = m->g.find_id("x"), y = m->g.find_id("y");
  for (int64_t start = 0; start < d.n; start += eb) {
    const int64_t rows = std::min(eb, d.n - start);
    auto xs = e->f32(x);
    std::fill(xs.begin(), xs.end(), 0.f);  // the padded tail of the last batch is ignored below
    std::copy(d.x.begin() + start * d.features, d.x.begin() + (start + rows) * d.features, xs.begin());
    auto ys = e->i32(y);
    std::fill(ys.begin(), ys.end(), 0);
    std::copy(d.y.begin() + start, d.y.begin() + start + rows, ys.begin());
    e->run();
    met.add(e->f32(m->logits.id), std::span<const int32_t>(d.y.data() + start, static_cast<size_t>(rows)), rows);
  }
  return met;
}

std::vector<double> predict_probs(const std::string& model, const std::vector<NamedTensor>& weights, const Dataset& d,
                                  const std::string& source) {
  auto m = build_model(model, {.batch = 1, .training = false});
  check_features(d, per_example(m->g), "model '" + model + "'");
  auto e = make_engine(m->g, EngineKind::Jit);
  restore(m->g, *e, weights, source);
  auto xs = e->f32(m->g.find_id("x"));
  std::copy(d.x.begin(), d.x.begin() + d.features, xs.begin());
  e->run();
  return softmax_row(e->f32(m->logits.id));
}

TrainResult train(TrainConfig cfg) {
  TrainResult res;
  Dataset all = load_named(cfg.dataset, cfg.data_dir, "train");
  Dataset base = cfg.first_n > 0 ? slice(all, 0, std::min(cfg.first_n, all.n)) : all;
  if (cfg.shuffle_split) {
    const std::vector<int64_t> p = permutation(base.n, cfg.seed ^ 0x5eedULL, -1);
    Dataset s = base;
    for (int64_t i = 0; i < base.n; ++i) {
      const int64_t src = p[static_cast<size_t>(i)];
      std::copy(base.x.begin() + src * base.features, base.x.begin() + (src + 1) * base.features,
                s.x.begin() + i * base.features);
      s.y[static_cast<size_t>(i)] = base.y[static_cast<size_t>(src)];
    }
    base = std::move(s);
  }
  Dataset tr, val;
  if (cfg.train_n > 0) {
    tr = slice(base, 0, std::min(cfg.train_n, base.n));
    const int64_t vn = cfg.val_n > 0 ? cfg.val_n : base.n - tr.n;
    val = slice(base, tr.n, std::min(vn, base.n - tr.n));
  } else if (cfg.val_fraction > 0) {
    const auto vn = static_cast<int64_t>(std::llround(static_cast<double>(base.n) * cfg.val_fraction));
    tr = slice(base, 0, base.n - vn);
    val = slice(base, base.n - vn, vn);
  } else {
    tr = base;
  }
  Dataset test = load_named(cfg.dataset, cfg.data_dir, "test");
  if (cfg.test_n > 0) test = slice(test, 0, std::min(cfg.test_n, test.n));
  if (tr.n < cfg.batch)
    throw std::invalid_argument("gradc: " + std::to_string(tr.n) + " training examples < batch " +
                                std::to_string(cfg.batch));

  const int64_t per_epoch = tr.n / cfg.batch;
  const int64_t total = cfg.steps > 0 ? cfg.steps : cfg.epochs * per_epoch;
  if (total <= 0) throw std::invalid_argument("gradc: nothing to train: give --steps or --epochs > 0");

  auto m = build_model(cfg.model, {.batch = cfg.batch, .training = true, .seed = cfg.seed});
  for (const Dataset* d : {&tr, &val, &test})
    if (d->n > 0) check_features(*d, per_example(m->g), "model '" + cfg.model + "'");
  if (cfg.sum_loss) cfg.opt.loss_scale = static_cast<float>(cfg.batch);
  TrainStep ts = add_optimizer(m->loss, cfg.opt);
  m->g.mark_output(ts.total_loss, "total_loss");
  auto t_compile = Clock::now();
  CompileOptions co;
  co.fuse = cfg.fuse && !cfg.check_numerics;
  co.plan_memory = !cfg.check_numerics;
  co.passes = cfg.passes;
  auto eng = make_engine(m->g, cfg.engine, co);
  res.compile_ms = cfg.engine == EngineKind::Jit ? secs(t_compile, Clock::now()) * 1000 : 0;
  eng->set_threads(cfg.threads);
  const int xid = m->g.find_id("x"), yid = m->g.find_id("y"), lrid = ts.lr.id, keyid = m->g.find_id("dropout_key");

  int64_t start_step = 0;
  LoopState resumed_state;
  if (!cfg.resume_dir.empty()) {
    const std::string path = cfg.resume_dir + "/last.safetensors";
    Checkpoint c = load_checkpoint(path);
    start_step = validate_resume(c, path, cfg, total);
    restore(m->g, *eng, c.tensors, path, true);
    resumed_state = read_state(c.metadata, path);
    if (cfg.checkpoint_dir.empty()) cfg.checkpoint_dir = cfg.resume_dir;
    if (cfg.verbose) std::printf("resumed %s at step %lld\n", path.c_str(), static_cast<long long>(start_step));
  }
  if (!cfg.checkpoint_dir.empty()) make_dirs(cfg.checkpoint_dir, "--checkpoint-dir");

  const bool by_steps = cfg.steps > 0;
  const int64_t eval_every = by_steps ? std::max<int64_t>(1, total / std::max(1, cfg.periods)) : per_epoch;
  const bool tty = cfg.verbose && isatty(fileno(stdout));
  if (cfg.verbose)
    std::printf(
        "training %s on %s: %lld train / %lld val / %lld test, batch %lld, %lld steps (%lld per epoch), %s lr %g, "
        "engine %s\n",
        cfg.model.c_str(), cfg.dataset.c_str(), static_cast<long long>(tr.n), static_cast<long long>(val.n),
        static_cast<long long>(test.n), static_cast<long long>(cfg.batch), static_cast<long long>(total),
        static_cast<long long>(per_epoch), optimizer_name(cfg.opt.kind), static_cast<double>(cfg.lr),
        cfg.engine == EngineKind::Jit ? "jit" : "reference");
  if (cfg.verbose && (cfg.keep_best || cfg.early_stop))
    std::printf("%s%s%s\n", cfg.keep_best ? "keep-best: on (the lowest val_loss's weights are kept)" : "",
                cfg.keep_best && cfg.early_stop ? "; " : "",
                cfg.early_stop ? "early stopping: on (stops when an epoch's training accuracy drops)" : "");

  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  LoopState st = resumed_state;
  // keep-best after a resume: the best weights so far are those of best.safetensors (their EMA when
  // evaluating with EMA), exactly what the unbroken run holds in memory.
  std::vector<NamedTensor> best = cfg.keep_best && std::isfinite(st.best_val)
                                      ? best_from(cfg.resume_dir + "/best.safetensors", m->g, !ts.ema.empty())
                                      : std::vector<NamedTensor>{};
  auto t0 = Clock::now(), t_period = t0, t_print = t0;
  int64_t period_start = start_step, step = start_step;
  float first_loss = 0;   // this run's first step's loss: the divergence warning's reference
  bool diverged = false;  // the warning was printed
  const int classes = 10;
  for (step = start_step; step < total;) {
    const int64_t epoch = step / per_epoch, in_epoch = step % per_epoch;
    if (epoch != perm_epoch) {
      perm = permutation(tr.n, cfg.seed, epoch);
      perm_epoch = epoch;
    }
    auto xs = eng->f32(xid);
    auto ys = eng->i32(yid);
    for (int64_t r = 0; r < cfg.batch; ++r) {
      const int64_t src = perm[static_cast<size_t>(in_epoch * cfg.batch + r)];
      std::copy(tr.x.begin() + src * tr.features, tr.x.begin() + (src + 1) * tr.features, xs.begin() + r * tr.features);
      ys[static_cast<size_t>(r)] = tr.y[static_cast<size_t>(src)];
    }
    const float lr = cfg.schedule.lr_at(cfg.lr, step, epoch);
    eng->f32(lrid)[0] = effective_lr(cfg.opt, lr, step + 1);
    if (keyid >= 0) eng->i32(keyid)[0] = static_cast<int32_t>(step * 2654435761u + cfg.seed);
    eng->run();
    ++step;
    const float loss = eng->f32(m->loss.id)[0];
    if (cfg.check_numerics) {  // every intermediate is materialised in this mode: scan them all
      const std::string culprit = first_nonfinite(m->g, *eng);
      if (!culprit.empty())
        throw NumericsError("gradc: NaN/Inf at step " + std::to_string(step) + ", first produced by " + culprit);
    }
    if (!std::isfinite(loss))
      throw NumericsError("gradc: loss is " + std::to_string(loss) + " at step " + std::to_string(step) +
                          " (lower --lr, now " + fmt_g(cfg.lr) + (cfg.opt.clip_norm > 0 ? "" : ", or set --clip") +
                          "; rerun with --check-numerics to find the op that produced it)");
    if (step == start_step + 1) first_loss = loss;
    if (!diverged && loss > 1e3f * std::max(first_loss, 1.f)) {  // exploding, not yet non-finite: say so once
      diverged = true;
      std::fprintf(stderr,
                   "gradc: warning: the training loss exploded to %g at step %lld (it was %g at the start): lower --lr "
                   "(now %g)%s\n",
                   static_cast<double>(loss), static_cast<long long>(step), static_cast<double>(first_loss),
                   static_cast<double>(cfg.lr), cfg.opt.clip_norm > 0 ? "" : " or set --clip");
      std::fflush(stderr);
    }
    if (cfg.on_snapshot &&
        std::find(cfg.snapshot_steps.begin(), cfg.snapshot_steps.end(), step) != cfg.snapshot_steps.end())
      cfg.on_snapshot(step, snapshot(m->g, *eng, false));
    st.run_loss += loss;
    ++st.run_steps;
    {
      Metrics bm(classes);
      bm.add(eng->f32(m->logits.id), eng->i32(yid), cfg.batch);
      st.run_correct += bm.correct;
      st.run_count += bm.count;
    }
    const auto now = Clock::now();
    if (tty && secs(t_print, now) > 0.25) {
      const double sps = static_cast<double>(step - start_step) / secs(t0, now);
      std::printf("\r  step %lld/%lld epoch %lld loss %.4f acc %.3f %.0f steps/s ETA %.0fs   ",
                  static_cast<long long>(step), static_cast<long long>(total), static_cast<long long>(epoch + 1),
                  st.run_loss / static_cast<double>(st.run_steps),
                  static_cast<double>(st.run_correct) / static_cast<double>(st.run_count), sps,
                  static_cast<double>(total - step) / sps);
      std::fflush(stdout);
      t_print = now;
    }
    const bool period_end = step % eval_every == 0 || step == total;
    // A checkpoint is written at the end of the step, after the evaluation point's bookkeeping, so
    // that resuming from it continues exactly where the unbroken run is.
    const bool periodic = cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0;
    auto checkpoint = [&](double val_loss) {
      if (!cfg.checkpoint_dir.empty())
        save(cfg.checkpoint_dir + "/last.safetensors", m->g, *eng, cfg, step, epoch + 1, val_loss, st);
    };
    if (!period_end) {
      if (periodic) checkpoint(NAN);
      continue;
    }

    PeriodRow row;
    row.step = step;
    row.epoch = (step - 1) / per_epoch + 1;
    row.lr = lr;
    row.steps_per_s = static_cast<double>(step - period_start) / secs(t_period, now);
    auto weights = snapshot(m->g, *eng, false);
    auto eval_weights = weights;
    if (!ts.ema.empty()) {  // evaluate with the moving averages
      for (NamedTensor& w : eval_weights) {
        const int id = m->g.find_id(w.name + "/ema");
        auto d = eng->f32(id);
        w.data.assign(d.begin(), d.end());
      }
    }
    // Full-set train metrics when cheap (the tutorials' "LogLoss vs. Periods"), else the running mean.
    if (tr.n <= 10000) {
      Metrics tm = evaluate(cfg.model, eval_weights, tr, cfg.engine, cfg.threads);
      row.train_loss = tm.log_loss();
      row.train_acc = tm.accuracy();
    } else {
      row.train_loss = st.run_loss / static_cast<double>(st.run_steps);
      row.train_acc = static_cast<double>(st.run_correct) / static_cast<double>(st.run_count);
    }
    if (val.n > 0) {
      Metrics vm = evaluate(cfg.model, eval_weights, val, cfg.engine, cfg.threads);
      row.val_loss = vm.log_loss();
      row.val_acc = vm.accuracy();
    }
    res.history.push_back(row);
    if (cfg.on_period) cfg.on_period(row);
    if (cfg.verbose) {
      char val_text[64] = "no validation set";
      if (val.n > 0) std::snprintf(val_text, sizeof val_text, "val loss %.4f acc %.4f", row.val_loss, row.val_acc);
      std::printf("%s%s %lld step %lld: train loss %.4f acc %.4f | %s | lr %.4g | %.0f steps/s\n", tty ? "\r" : "",
                  by_steps ? "period" : "epoch", static_cast<long long>(by_steps ? step / eval_every : row.epoch),
                  static_cast<long long>(step), row.train_loss, row.train_acc, val_text, row.lr, row.steps_per_s);
    }
    if (cfg.keep_best && val.n > 0 && row.val_loss < st.best_val) {
      if (cfg.verbose)
        std::printf("  val_loss improved from %.4f to %.4f%s\n", st.best_val, row.val_loss,
                    cfg.checkpoint_dir.empty() ? ", keeping these weights"
                                               : (", saving " + cfg.checkpoint_dir + "/best.safetensors").c_str());
      st.best_val = row.val_loss;
      st.best_step = step;
      best = eval_weights;
      if (!cfg.checkpoint_dir.empty())
        save(cfg.checkpoint_dir + "/best.safetensors", m->g, *eng, cfg, step, row.epoch, row.val_loss, st);
    }
    const double epoch_acc = static_cast<double>(st.run_correct) / static_cast<double>(st.run_count);
    st.run_loss = 0;
    st.run_steps = st.run_correct = st.run_count = 0;
    t_period = Clock::now();
    period_start = step;
    const bool stop = cfg.early_stop && !by_steps && st.prev_epoch_acc >= 0 && epoch_acc < st.prev_epoch_acc;
    if (stop)
      res.stopped_early =
          "train accuracy dropped from " + std::to_string(st.prev_epoch_acc) + " to " + std::to_string(epoch_acc);
    else
      st.prev_epoch_acc = epoch_acc;
    if (periodic || cfg.checkpoint_every == 0 || step == total || stop) checkpoint(row.val_loss);
    if (stop) {
      if (cfg.verbose)
        std::printf("early stop after epoch %lld: %s\n", static_cast<long long>(row.epoch), res.stopped_early.c_str());
      break;
    }
  }
  res.steps = step;
  res.seconds = secs(t0, Clock::now());
  res.steps_per_s = static_cast<double>(step - start_step) / res.seconds;
  res.final_params = best.empty() ? snapshot(m->g, *eng, false) : best;
  if (!best.empty() && cfg.verbose)
    std::printf("restored the best weights: step %lld, epoch %lld (val_loss %.4f)\n",
                static_cast<long long>(st.best_step), static_cast<long long>((st.best_step - 1) / per_epoch + 1),
                st.best_val);
  if (best.empty() && !ts.ema.empty())
    for (NamedTensor& w : res.final_params) {
      auto d = eng->f32(m->g.find_id(w.name + "/ema"));
      w.data.assign(d.begin(), d.end());
    }
  if (val.n > 0) res.val = evaluate(cfg.model, res.final_params, val, cfg.engine, cfg.threads);
  res.test = evaluate(cfg.model, res.final_params, test, cfg.engine, cfg.threads);
  if (!cfg.checkpoint_dir.empty()) {
    Checkpoint c;
    c.tensors = res.final_params;
    c.metadata = {{"format", "gradc-1"},
                  {"model", cfg.model},
                  {"step", std::to_string(step)},
                  {"test_accuracy", std::to_string(res.test.accuracy())}};
    save_checkpoint(cfg.checkpoint_dir + "/final.safetensors", c);
  }
  return res;
}

}  // namespace gradc
