// Trainer::fit: the one training loop of the project.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "models/data_split.h"
#include "models/metadata.h"
#include "models/params.h"
#include "models/trainer.h"
#include "models/trainer_impl.h"
#include "runtime/files.h"
#include "runtime/interrupt.h"

namespace gradc {

FitResult Trainer::fit(const Dataset& train, const Dataset& val) {
  check_data(train, "training data");
  if (val.n > 0) check_data(val, "validation data");
  if (train.n < cfg_.batch)
    throw DataError("gradc: model '" + name_ + "': " + std::to_string(train.n) +
                    " training examples cannot fill one batch of " + std::to_string(cfg_.batch) + " (lower --batch)");
  per_epoch_ = train.n / cfg_.batch;
  total_ = cfg_.steps > 0 ? cfg_.steps : cfg_.epochs * per_epoch_;
  if (total_ <= 0) throw std::invalid_argument("gradc: nothing to train: give --steps or --epochs > 0");
  if (step_ > total_)
    throw DataError("gradc: model '" + name_ + "': the checkpoint is at step " + std::to_string(step_) +
                    ", past this run's " + std::to_string(total_) + " steps");
  eval_every_ = cfg_.steps > 0 ? std::max<int64_t>(1, total_ / std::max(1, cfg_.periods)) : per_epoch_;
  if (!cfg_.checkpoint_dir.empty()) make_dirs(cfg_.checkpoint_dir, "--checkpoint-dir");
  if (!cfg_.checkpoint_dir.empty() && rank() == 0 && !impl_->dir_lock)
    impl_->dir_lock.emplace(cfg_.checkpoint_dir, "--checkpoint-dir");
  stop_reason_ = resumed_stop_;  // a resumed run that had stopped early ends where it stopped
  stop_saved_ = false;
  has_val_ = val.n > 0;
  impl_->t0 = impl_->t_period = Clock::now();
  impl_->period_start = step_;
  if (ranks() > 1) check_ranks_agree("at the start");  // the same seed gave every rank the same initial weights
  for (const auto& cb : callbacks_) cb->on_train_begin(*this);

  FitResult res;
  res.compile_ms = impl_->compile_ms;
  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  while (step_ < total_ && stop_reason_.empty()) {
    if (const int64_t epoch = step_ / per_epoch_; epoch != perm_epoch) {
      perm = permutation(train.n, cfg_.seed, epoch);
      perm_epoch = epoch;
    }
    run_step(train, perm);
    const int sig = cfg_.interrupt && ranks() == 1 ? static_cast<int>(*cfg_.interrupt) : 0;
    if (sig) {
      res.interrupted = sig;
      request_stop(std::string("interrupted by ") + signal_name(sig) + " after step " + std::to_string(step_));
    }
    const bool period_end = step_ % eval_every_ == 0 || step_ == total_ || sig;
    // A checkpoint is written at the end of the step, after the evaluation point's bookkeeping, so
    // that resuming from it continues exactly where the unbroken run is.
    const bool periodic = cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0;
    const bool saving = !cfg_.checkpoint_dir.empty();
    if (!period_end) {
      if (periodic && saving) checkpoint(NAN);
      continue;
    }
    const PeriodRow row = eval_point(train, val);
    res.history.push_back(row);
    for (const auto& cb : callbacks_) cb->on_eval(*this, row);
    run_loss_ = 0;
    run_steps_ = run_correct_ = run_count_ = 0;
    impl_->t_period = Clock::now();
    impl_->period_start = step_;
    const bool stop = !stop_reason_.empty();
    stop_saved_ = stop && !sig;
    if (saving && (periodic || cfg_.checkpoint_every == 0 || step_ == total_ || stop))
      checkpoint(row.has_val ? row.val_loss : NAN);
    if (stop) break;
  }
  res.steps = step_;
  res.seconds = seconds();
  res.steps_per_s = static_cast<double>(step_ - start_step_) / std::max(res.seconds, 1e-9);
  res.stopped_early = stop_reason_;
  for (const auto& cb : callbacks_) cb->on_train_end(*this);
  res.checksum = check_ranks_agree("at the end");
  return res;
}

void Trainer::run_step(const Dataset& train, const std::vector<int64_t>& perm) {
  Engine& e = *impl_->engine;
  const int64_t epoch = step_ / per_epoch_, in_epoch = step_ % per_epoch_;
  auto xs = e.f32(impl_->x);
  auto ys = e.i32(impl_->y);
  const int64_t f = train.features, b = impl_->local_batch;
  for (int64_t r = 0; r < b; ++r) {  // this rank's slice of the global batch
    const int64_t src = perm[static_cast<size_t>(in_epoch * cfg_.batch + rank() * b + r)];
    std::copy(train.x.begin() + src * f, train.x.begin() + (src + 1) * f, xs.begin() + r * f);
    ys[static_cast<size_t>(r)] = train.y[static_cast<size_t>(src)];
  }
  lr_ = static_cast<float>(cfg_.schedule.lr_at(cfg_.lr, step_, epoch, total_) * lr_scale_);
  e.f32(impl_->ts.lr.id)[0] = effective_lr(cfg_.opt, lr_, step_ + 1);
  if (impl_->key >= 0) e.i32(impl_->key)[0] = static_cast<int32_t>(step_ * 2654435761u + cfg_.seed);
  e.run();
  ++step_;
  const float loss = e.f32(impl_->model->loss.id)[0];
  if (cfg_.check_numerics) {  // every intermediate is materialised in this mode: scan them all
    const std::string culprit = first_nonfinite(graph(), e);
    if (!culprit.empty())
      throw NumericsError("gradc: NaN/Inf at step " + std::to_string(step_) + ", first produced by " + culprit);
  }
  const std::string clip_hint = cfg_.opt.clip_norm > 0 ? "" : " or set --clip";
  if (!std::isfinite(loss))
    throw NumericsError("gradc: loss is " + std::to_string(loss) + " at step " + std::to_string(step_) +
                        " (lower --lr, now " + format("%g", cfg_.lr) + clip_hint +
                        "; rerun with --check-numerics to find the op that produced it)");
  if (step_ == start_step_ + 1) impl_->first_loss = loss;
  if (!impl_->diverged && loss > 1e3f * std::max(impl_->first_loss, 1.f)) {  // exploding: say so once
    impl_->diverged = true;
    std::fprintf(stderr,
                 "gradc: warning: the training loss exploded to %g at step %lld (it was %g at the start): lower --lr "
                 "(now %g)%s\n",
                 static_cast<double>(loss), static_cast<long long>(step_), static_cast<double>(impl_->first_loss),
                 static_cast<double>(cfg_.lr), clip_hint.c_str());
    std::fflush(stderr);
  }
  run_loss_ += loss;
  ++run_steps_;
  Metrics bm(impl_->classes);
  const int64_t cols = impl_->model->logits.node().shape[1];
  auto logits = e.f32(impl_->model->logits.id).first(static_cast<size_t>(b * cols));
  add_rows(bm, logits, e.i32(impl_->y), b, impl_->model->head);
  run_correct_ += bm.correct;
  run_count_ += bm.count;
  for (const auto& cb : callbacks_) cb->on_step_end(*this, loss);
}

PeriodRow Trainer::eval_point(const Dataset& train, const Dataset& val) {
  PeriodRow row;
  row.step = step_;
  row.epoch = (step_ - 1) / per_epoch_ + 1;
  row.lr = lr_;
  row.steps_per_s = static_cast<double>(step_ - impl_->period_start) / secs(impl_->t_period, Clock::now());
  const std::vector<NamedTensor> w = weights(true);
  // Full-set train metrics when cheap (the tutorials' "LogLoss vs. Periods"), else the running mean.
  if (train.n <= cfg_.full_train_metrics) {
    const Metrics tm = run_eval(w, train, nullptr);
    row.train_loss = tm.log_loss();
    row.train_acc = tm.accuracy();
  } else {  // the running means of the whole global batches (over every rank)
    const RunningSums s = global_running();
    row.train_loss = run_steps_ ? s.loss / static_cast<double>(run_steps_) : 0;
    row.train_acc = s.count ? static_cast<double>(s.correct) / static_cast<double>(s.count) : 0;
  }
  if (val.n > 0) {
    const Metrics vm = run_eval(w, val, nullptr);
    row.val_loss = vm.log_loss();
    row.val_acc = vm.accuracy();
    row.has_val = true;
  }
  return row;
}

}  // namespace gradc
