#include "autodiff/graph.h"

#include <filesystem>

namespace gradc {

const Node& Tensor::node() const { return g->node(id); }
Shape Tensor::shape() const { return g->node(id).shape; }
DType Tensor::dtype() const { return g->node(id).dtype; }

std::string where_str(const std::source_location& loc) {
  return std::filesystem::path(loc.file_name()).filename().string() + ":" + std::to_string(loc.line());
}

Tensor Graph::add(Op op, std::vector<int> in, Attrs a, std::source_location loc) {
  const OpInfo& info = op_info(op);
  if (static_cast<int>(in.size()) != info.arity)
    throw GraphError("gradc: op '" + std::string(info.name) + "' takes " + std::to_string(info.arity) +
                     " inputs, got " + std::to_string(in.size()) + " (at " + where_str(loc) + ")");
  for (int i : in)
    if (i < 0 || static_cast<size_t>(i) >= nodes_.size())
      throw GraphError("gradc: op '" + std::string(info.name) + "' got an invalid tensor (at " + where_str(loc) + ")");
  TypeInfo t;
  try {
    t = info.infer(*this, in, a);
  } catch (const GraphError& e) {
    throw GraphError("gradc: op '" + std::string(info.name) + "': " + e.what() + " (at " + where_str(loc) + ")");
  }
  Node n;
  n.id = static_cast<int>(nodes_.size());
  n.op = op;
  n.in = std::move(in);
  n.shape = t.shape;
  n.dtype = t.dtype;
  n.a = std::move(a);
  n.where = where_str(loc);
  nodes_.push_back(std::move(n));
  return {this, nodes_.back().id};
}

Tensor Graph::input(const std::string& name, Shape s, DType t, std::source_location loc) {
  if (find_id(name) >= 0)
    throw GraphError("gradc: duplicate input/parameter name '" + name + "' (at " + where_str(loc) + ")");
  Attrs a;
  a.shape = s;
  Tensor r = add(Op::Input, {}, a, loc);
  Node& n = node(r.id);
  n.dtype = t;
  n.name = name;
  n.role = Role::Input;
  return r;
}

Tensor Graph::param(const std::string& name, Shape s, Init init, float scale, std::source_location loc) {
  if (find_id(name) >= 0)
    throw GraphError("gradc: duplicate input/parameter name '" + name + "' (at " + where_str(loc) + ")");
  Attrs a;
  a.shape = s;
  a.init = init;
  a.value = scale;
  a.seed = seed * 1000003ULL + nodes_.size();
  Tensor r = add(Op::Parameter, {}, a, loc);
  Node& n = node(r.id);
  n.name = name;
  n.role = Role::Param;
  return r;
}

Tensor Graph::state(const std::string& name, Shape s, Init init, float value, std::source_location loc) {
  Tensor t = param(name, s, init, value, loc);
  node(t.id).role = Role::State;
  return t;
}

Tensor Graph::moving(const std::string& name, Shape s, Init init, float value, std::source_location loc) {
  Tensor t = param(name, s, init, value, loc);
  node(t.id).role = Role::Moving;
  return t;
}

std::vector<Tensor> Graph::params() {
  std::vector<Tensor> r;
  for (const Node& n : nodes_)
    if (n.op == Op::Parameter && n.role == Role::Param) r.push_back({this, n.id});
  return r;
}

int Graph::find_id(const std::string& name) const {
  for (const Node& n : nodes_)
    if ((n.op == Op::Input || n.op == Op::Parameter) && n.name == name) return n.id;
  return -1;
}

Tensor Graph::find(const std::string& name) {
  int id = find_id(name);
  if (id < 0) throw GraphError("gradc: no input or parameter named '" + name + "'");
  return {this, id};
}

void Graph::mark_output(Tensor t, const std::string& name) {
  Node& n = node(t.id);
  if (n.name.empty()) n.name = name;
  if (n.role == Role::Op) n.role = Role::Output;
  for (int o : outputs_)
    if (o == t.id) return;
  outputs_.push_back(t.id);
}

void Graph::assign(Tensor param, Tensor value, std::source_location loc) {
  const Node& p = node(param.id);
  const Node& v = node(value.id);
  if (p.op != Op::Parameter)
    throw GraphError("gradc: assign target '" + p.name + "' is not a parameter (at " + where_str(loc) + ")");
  if (p.shape != v.shape || v.dtype != DType::F32)
    throw GraphError("gradc: assign to '" + p.name + "' " + p.shape.str() + " from " + v.shape.str() + " (at " +
                     where_str(loc) + ")");
  for (const Update& u : updates_)
    if (u.param == param.id) throw GraphError("gradc: parameter '" + p.name + "' assigned twice");
  updates_.push_back({param.id, value.id});
}

}  // namespace gradc
