#include "runtime/interpreter.h"

#include <stdexcept>

#include "runtime/init.h"
#include "runtime/memory_budget.h"
#include "runtime/ref_ops.h"

namespace gradc {

template <class T>
BasicInterpreter<T>::BasicInterpreter(const Graph& g) : g_(g), vals_(g.size()) {
  check_memory(graph_bytes(g), g, "the reference interpreter");
  for (const Node& n : g.nodes()) {
    vals_[static_cast<size_t>(n.id)] = BasicValue<T>::zeros(n.shape, n.dtype);
    if (n.op != Op::Parameter) continue;
    const std::vector<float> init = init_param(n);
    vals_[static_cast<size_t>(n.id)].f.assign(init.begin(), init.end());
  }
}

template <class T>
void BasicInterpreter<T>::set_value(int id, BasicValue<T> v) {
  const Node& n = g_.node(id);
  if (n.op != Op::Input && n.op != Op::Parameter)
    throw std::invalid_argument("gradc: node " + std::to_string(id) + " is not an input or parameter");
  const size_t want = static_cast<size_t>(n.shape.numel());
  const size_t got = n.dtype == DType::F32 ? v.f.size() : v.i.size();
  if (v.dtype != n.dtype || got != want)
    throw std::invalid_argument("gradc: value for '" + n.name + "' has " + std::to_string(got) + " " +
                                dtype_name(v.dtype) + " elements, expected " + std::to_string(want) + " " +
                                dtype_name(n.dtype) + " for shape " + n.shape.str());
  v.shape = n.shape;
  vals_[static_cast<size_t>(id)] = std::move(v);
}

template <class T>
void BasicInterpreter<T>::set_input(const std::string& name, std::vector<T> data) {
  BasicValue<T> v;
  v.f = std::move(data);
  set_value(input_id(name), std::move(v));
}

template <class T>
void BasicInterpreter<T>::set_input_i32(const std::string& name, std::vector<int32_t> data) {
  BasicValue<T> v;
  v.dtype = DType::I32;
  v.i = std::move(data);
  set_value(input_id(name), std::move(v));
}

template <class T>
int BasicInterpreter<T>::input_id(const std::string& name) const {
  const int id = g_.find_id(name);
  if (id < 0) throw std::invalid_argument("gradc: no input or parameter named '" + name + "'");
  return id;
}

template <class T>
const BasicValue<T>& BasicInterpreter<T>::value(const std::string& name) const {
  return value(input_id(name));
}

template <class T>
void BasicInterpreter<T>::run() {
  std::vector<const BasicValue<T>*> ins;
  for (const Node& n : g_.nodes()) {
    if (n.op == Op::Input || n.op == Op::Parameter) continue;
    ins.clear();
    for (int i : n.in) ins.push_back(&vals_[static_cast<size_t>(i)]);
    ref_kernel<T>(n.op)(n, ins, vals_[static_cast<size_t>(n.id)]);
  }
  for (const Graph::Update& u : g_.updates())
    vals_[static_cast<size_t>(u.param)].f = vals_[static_cast<size_t>(u.value)].f;
}

template class BasicInterpreter<float>;
template class BasicInterpreter<double>;

}  // namespace gradc
