#include "autodiff/optim.h"

#include <cmath>

#include "autodiff/autodiff.h"
#include "autodiff/dsl.h"

namespace gradc {

OptKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptKind::SGD;
  if (name == "momentum") return OptKind::Momentum;
  if (name == "adagrad") return OptKind::Adagrad;
  if (name == "rmsprop") return OptKind::RMSprop;
  if (name == "adam") return OptKind::Adam;
  throw std::invalid_argument("gradc: unknown optimizer '" + name + "' (known: sgd, momentum, adagrad, rmsprop, adam)");
}

const char* optimizer_name(OptKind k) {
  switch (k) {
    case OptKind::SGD:
      return "sgd";
    case OptKind::Momentum:
      return "momentum";
    case OptKind::Adagrad:
      return "adagrad";
    case OptKind::RMSprop:
      return "rmsprop";
    case OptKind::Adam:
      return "adam";
  }
  return "?";
}

float effective_lr(const OptimizerConfig& cfg, float lr, int64_t t) {
  if (cfg.kind != OptKind::Adam) return lr;
  const double b1 = cfg.beta1, b2 = cfg.beta2, tt = static_cast<double>(t);
  return static_cast<float>(lr * std::sqrt(1.0 - std::pow(b2, tt)) / (1.0 - std::pow(b1, tt)));
}

namespace {
// The mean over ranks of every gradient: each rank's objective is its slice's scale·loss (+ the
// same penalty), so the mean is the one-process objective's gradient at the global batch.
void add_allreduce(std::vector<Tensor>& grads, const OptimizerConfig& cfg) {
  if (cfg.bucket_bytes <= 0) throw std::invalid_argument("gradc: bucket size must be positive");
  int bucket = 0;
  int64_t bytes = 0;
  for (size_t i = grads.size(); i-- > 0;) {  // backward order: the last layer's gradients are final first
    grads[i] = allreduce(grads[i], 1.f / static_cast<float>(cfg.ranks), bucket);
    bytes += grads[i].shape().numel() * 4;
    if (bytes >= cfg.bucket_bytes) ++bucket, bytes = 0;  // full: the next gradient opens a new bucket
  }
}
}  // namespace

TrainStep add_optimizer(Tensor loss, const OptimizerConfig& cfg) {
  Graph& g = *loss.g;
  TrainStep s;
  s.params = g.params();
  s.lr = g.input("lr", Shape::scalar());
  s.total_loss = cfg.loss_scale == 1.f ? loss : loss * cfg.loss_scale;
  if (cfg.l2 > 0.f) {
    Tensor penalty;
    for (Tensor p : s.params)
      if (p.shape().rank >= 2) penalty = penalty.valid() ? penalty + sum(square(p)) : sum(square(p));
    if (penalty.valid()) s.total_loss = s.total_loss + penalty * cfg.l2;
  }
  s.grads = grad(s.total_loss, s.params);
  if (cfg.ranks > 1) {
    // Each rank would move batch norm's statistics by its own slice of the batch, and the ranks'
    // weights would part (the run's checksum check would stop it later, less clearly).
    for (const Node& n : g.nodes())
      if (n.role == Role::Moving)
        throw std::invalid_argument("gradc: '" + n.name +
                                    "' is a moving statistic (batch_norm): data-parallel training does not yet "
                                    "synchronise them across ranks; train on one process");
    add_allreduce(s.grads, cfg);
  }
  std::vector<Tensor> gs = s.grads;
  if (cfg.clip_norm > 0.f) {
    Tensor sq;
    for (Tensor d : gs) sq = sq.valid() ? sq + sum(square(d)) : sum(square(d));
    s.grad_norm = sqrt(sq);
    // tf.clip_by_global_norm: g · clip / max(norm, clip)
    Tensor scale = cfg.clip_norm / maximum(s.grad_norm, constant(g, cfg.clip_norm));
    for (Tensor& d : gs) d = d * scale;
  }
  for (size_t i = 0; i < s.params.size(); ++i) {
    Tensor p = s.params[i], d = gs[i];
    const std::string name = p.node().name;
    const Shape shape = p.shape();
    Tensor next;
    switch (cfg.kind) {
      case OptKind::SGD:
        next = p - d * s.lr;
        break;
      case OptKind::Momentum: {
        Tensor v = g.state(name + "/momentum", shape, Init::Zeros);
        Tensor vn = v * cfg.momentum + d;
        g.assign(v, vn);
        next = p - vn * s.lr;
        break;
      }
      case OptKind::Adagrad: {
        Tensor acc = g.state(name + "/adagrad", shape, Init::Fill, cfg.adagrad_init);
        Tensor an = acc + square(d);
        g.assign(acc, an);
        next = p - d * s.lr / sqrt(an);
        break;
      }
      case OptKind::RMSprop: {
        Tensor acc = g.state(name + "/rms", shape, Init::Zeros);
        Tensor an = acc * cfg.rho + square(d) * (1.f - cfg.rho);
        g.assign(acc, an);
        next = p - d * s.lr / (sqrt(an) + cfg.epsilon);
        break;
      }
      case OptKind::Adam: {
        Tensor m = g.state(name + "/adam_m", shape, Init::Zeros);
        Tensor v = g.state(name + "/adam_v", shape, Init::Zeros);
        Tensor mn = m * cfg.beta1 + d * (1.f - cfg.beta1);
        Tensor vn = v * cfg.beta2 + square(d) * (1.f - cfg.beta2);
        g.assign(m, mn);
        g.assign(v, vn);
        next = p - mn * s.lr / (sqrt(vn) + cfg.epsilon);
        break;
      }
    }
    g.assign(p, next);
    if (cfg.ema_decay > 0.f) {
      // Starts equal to the parameter (same initializer and seed), like tf.train.ExponentialMovingAverage.
      Tensor e = g.state(name + "/ema", shape, Init::Zeros);
      g.node(e.id).a.init = p.node().a.init;
      g.node(e.id).a.seed = p.node().a.seed;
      g.node(e.id).a.value = p.node().a.value;
      g.assign(e, e * cfg.ema_decay + next * (1.f - cfg.ema_decay));
      s.ema.push_back(e);
    }
  }
  return s;
}

}  // namespace gradc
