// The reference interpreter: evaluates a graph node by node with the plain kernels of ref_ops.cpp.
// Deterministic and slow on purpose; the oracle for every JIT and compiler-pass test. T is the
// element type of floating tensors: Interpreter (float) is the oracle, Interpreter64 (double) runs
// the float64 finite-difference gradient checks.
#pragma once
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "runtime/value.h"

namespace gradc {

template <class T>
class BasicInterpreter {
 public:
  // Binds to `g` (which must outlive the interpreter); parameters get their initial values.
  explicit BasicInterpreter(const Graph& g);

  void set_input(const std::string& name, std::vector<T> data);
  void set_input_i32(const std::string& name, std::vector<int32_t> data);
  void set_value(int id, BasicValue<T> v);  // inputs or parameters by node id, shape checked
  void run();                               // evaluates every node in order, then applies the graph's parameter updates

  const BasicValue<T>& value(int id) const { return vals_.at(static_cast<size_t>(id)); }
  BasicValue<T>& value(int id) { return vals_.at(static_cast<size_t>(id)); }
  const BasicValue<T>& value(const std::string& name) const;

 private:
  int input_id(const std::string& name) const;

  const Graph& g_;
  std::vector<BasicValue<T>> vals_;
};

extern template class BasicInterpreter<float>;
extern template class BasicInterpreter<double>;
using Interpreter = BasicInterpreter<float>;
using Interpreter64 = BasicInterpreter<double>;

}  // namespace gradc
