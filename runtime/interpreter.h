// The reference interpreter: evaluates a graph node by node with the plain kernels of ref_ops.cpp.
// Deterministic and slow on purpose; the oracle for every JIT and compiler-pass test.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "runtime/value.h"

namespace gradc {

class Interpreter {
 public:
  // Binds to `g` (which must outlive the interpreter); parameters get their initial values.
  explicit Interpreter(const Graph& g);

  void set_input(const std::string& name, std::vector<float> data);
  void set_input_i32(const std::string& name, std::vector<int32_t> data);
  void set_value(int id, Value v);  // inputs or parameters by node id, shape checked
  void run();                       // evaluates every node in order, then applies the graph's parameter updates

  const Value& value(int id) const { return vals_.at(static_cast<size_t>(id)); }
  Value& value(int id) { return vals_.at(static_cast<size_t>(id)); }
  const Value& value(const std::string& name) const;

 private:
  int input_id(const std::string& name) const;

  const Graph& g_;
  std::vector<Value> vals_;
};

}  // namespace gradc
