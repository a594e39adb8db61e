#include "models/params.h"

#include <algorithm>
#include <cmath>

#include "runtime/dataset.h"

namespace gradc {

std::vector<NamedTensor> snapshot(const Graph& g, Engine& e, bool include_state) {
  std::vector<NamedTensor> out;
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (include_state || n.role == Role::Param)) {
      auto d = e.f32(n.id);
      out.push_back({n.name, n.shape, std::vector<float>(d.begin(), d.end())});
    }
  return out;
}

void restore(const Graph& g, Engine& e, const std::vector<NamedTensor>& ts, const std::string& from, bool with_state) {
  for (const NamedTensor& t : ts) {
    const int id = g.find_id(t.name);
    if (id < 0 || g.node(id).op != Op::Parameter) continue;
    if (g.node(id).shape != t.shape)
      throw DataError("gradc: " + from + ": tensor '" + t.name + "' has shape " + t.shape.str() + ", the model needs " +
                      g.node(id).shape.str());
    auto d = e.f32(id);
    std::copy(t.data.begin(), t.data.end(), d.begin());
  }
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (with_state || n.role == Role::Param)) {
      const bool found = std::any_of(ts.begin(), ts.end(), [&](const NamedTensor& t) { return t.name == n.name; });
      if (!found)
        throw DataError("gradc: " + from + ": no tensor for " +
                        (n.role == Role::Param ? "parameter '" : "optimizer state '") + n.name + "'");
    }
}

std::vector<NamedTensor> eval_weights(const std::vector<NamedTensor>& state, bool ema, bool* used_ema) {
  auto find = [&](const std::string& name) -> const NamedTensor* {
    for (const NamedTensor& t : state)
      if (t.name == name) return &t;
    return nullptr;
  };
  std::vector<NamedTensor> out;
  bool any = false;
  for (const NamedTensor& t : state) {
    if (t.name.find('/') != std::string::npos && find(t.name.substr(0, t.name.rfind('/'))))
      continue;  // a slot or EMA copy of another tensor, not a parameter
    out.push_back(t);
    if (const NamedTensor* e = ema ? find(t.name + "/ema") : nullptr; e && e->shape == t.shape) {
      out.back().data = e->data;
      any = true;
    }
  }
  if (used_ema) *used_ema = any;
  return out;
}

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

}  // namespace gradc
