// One interface over the two ways to execute a graph: the JIT Program and the reference
// Interpreter, so the trainer, evaluator and benchmarks run on either (--engine jit|reference).
#pragma once
#include <memory>
#include <span>
#include <string>

#include "autodiff/graph.h"
#include "compiler/jit.h"

namespace gradc {

enum class EngineKind { Jit, Reference };
EngineKind parse_engine(const std::string& s);  // "jit" | "reference"

class Engine {
 public:
  virtual ~Engine() = default;
  virtual void run() = 0;
  // Contents of a node's buffer (inputs, parameters, outputs); i32 nodes through i32().
  virtual std::span<float> f32(int node) = 0;
  virtual std::span<int32_t> i32(int node) = 0;
  virtual void set_threads(int n) = 0;
  virtual double compile_ms() const { return 0; }
  // False when the node was fused away or optimised out (then f32() throws).
  virtual bool has_buffer(int) const { return true; }
};

std::unique_ptr<Engine> make_engine(const Graph& g, EngineKind kind, const CompileOptions& opt = {});

// Copies the values of every parameter/state of `from` into the same-named ones of `to` (names
// missing in `to` are skipped). `suffix` picks e.g. "<name>/ema" in `from` for "<name>" in `to`.
void copy_params(const Graph& from_graph, Engine& from, const Graph& to_graph, Engine& to,
                 const std::string& suffix = "");

}  // namespace gradc
