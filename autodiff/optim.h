// Optimizers as graph ops: the whole training step (loss, L2 penalty, gradients, global-norm
// clipping, the update rule, EMA of the weights) becomes one graph that compiles into one program.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

enum class OptKind { SGD, Momentum, Adagrad, RMSprop, Adam };
OptKind parse_optimizer(const std::string& name);  // throws std::invalid_argument listing the known ones
const char* optimizer_name(OptKind k);

struct OptimizerConfig {
  OptKind kind = OptKind::SGD;
  float momentum = 0.9f;               // Momentum: v = m·v + g; p -= lr·v (TensorFlow's MomentumOptimizer)
  float adagrad_init = 0.1f;           // Adagrad: acc starts at 0.1 like TensorFlow; p -= lr·g/√acc
  float rho = 0.9f;                    // RMSprop (Keras): acc = ρ·acc + (1-ρ)g²; p -= lr·g/(√acc + ε)
  float beta1 = 0.9f, beta2 = 0.999f;  // Adam; the bias correction is folded into the fed lr
  float epsilon = 1e-7f;               // Keras' default for RMSprop and Adam
  float clip_norm = 0.f;               // > 0: clip gradients by global norm (tf.clip_by_global_norm)
  float l2 = 0.f;                      // > 0: loss += l2·Σ‖W‖² over rank >= 2 parameters
  float ema_decay = 0.f;               // > 0: keep "<param>/ema" = d·ema + (1-d)·param_new
  float loss_scale = 1.f;              // objective = scale·loss; = batch reproduces TF1 estimators' summed loss
  // Data-parallel training: > 1 puts an allreduce (mean over the ranks) between each gradient and
  // everything that reads it (clipping, update), gradients grouped into buckets of about
  // bucket_bytes in backward order (the last layer's first, as they become final).
  int ranks = 1;
  int64_t bucket_bytes = int64_t{1} << 20;
};

struct TrainStep {
  Tensor lr;                          // f32 scalar input "lr", fed each step (schedules need no recompile)
  Tensor total_loss;                  // the objective differentiated: scale·loss (+ L2 penalty)
  Tensor grad_norm;                   // global gradient norm before clipping (invalid when not clipping)
  std::vector<Tensor> params, grads;  // grads: after the allreduce when ranks > 1
  std::vector<Tensor> ema;            // parallel to params when ema_decay > 0
};

// Appends gradients and updates (Graph::assign) for every trainable parameter of loss's graph.
TrainStep add_optimizer(Tensor loss, const OptimizerConfig& cfg);

// The learning rate to feed at step t (1-based) for Adam's bias correction; other optimizers: lr.
float effective_lr(const OptimizerConfig& cfg, float lr, int64_t t);

}  // namespace gradc
