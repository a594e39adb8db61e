// A graph's parameters and optimizer state as named tensors: read them out of an engine, write them
// back (every trainable parameter must be found, with its shape), pick the weights evaluation uses
// (the EMA copies when present), and find the first op that produced a NaN/Inf.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "runtime/checkpoint.h"
#include "runtime/engine.h"

namespace gradc {

// The model's weights of `g` — trainable parameters and moving statistics — (with `include_state`:
// also optimizer slots and EMA copies).
std::vector<NamedTensor> snapshot(const Graph& g, Engine& e, bool include_state);

// Throws DataError naming `from` on a shape mismatch or when a parameter or moving statistic (with
// `with_state`: any optimizer state too) of `g` has no tensor in `ts`. Needs no engine: callers
// check a checkpoint against a model's graph before allocating its buffers.
void check_weights(const Graph& g, const std::vector<NamedTensor>& ts, const std::string& from,
                   bool with_state = false);

// check_weights, then copies same-named tensors into `e`.
void restore(const Graph& g, Engine& e, const std::vector<NamedTensor>& ts, const std::string& from,
             bool with_state = false);

// The weights evaluation uses, from a full state (parameters + "<name>/ema" + optimizer slots):
// each trainable parameter, replaced by its EMA copy when `ema` and one of that shape exists.
// `used_ema` (optional) says whether any was replaced.
std::vector<NamedTensor> eval_weights(const std::vector<NamedTensor>& state, bool ema, bool* used_ema = nullptr);

// The first computed node (in execution order) whose buffer holds a NaN/Inf, described with its op,
// name, shape and DSL source line; "" if none.
std::string first_nonfinite(const Graph& g, Engine& e);

}  // namespace gradc
