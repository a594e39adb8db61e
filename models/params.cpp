#include "models/params.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "runtime/dataset.h"

namespace gradc {

std::vector<NamedTensor> snapshot(const Graph& g, Engine& e, bool include_state) {
  std::vector<NamedTensor> out;
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (include_state || n.role == Role::Param || n.role == Role::Moving)) {
      auto d = e.f32(n.id);
      out.push_back({n.name, n.shape, std::vector<float>(d.begin(), d.end())});
    }
  return out;
}

namespace {
std::unordered_map<std::string_view, int> params_by_name(const Graph& g) {
  std::unordered_map<std::string_view, int> params;  // by name: a crafted file may hold 300 000 tensors
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter) params.emplace(n.name, n.id);
  return params;
}
}  // namespace

void check_weights(const Graph& g, const std::vector<NamedTensor>& ts, const std::string& from, bool with_state) {
  const auto params = params_by_name(g);
  std::unordered_set<std::string_view> present;
  for (const NamedTensor& t : ts) {
    present.insert(t.name);
    const auto it = params.find(t.name);
    if (it != params.end() && g.node(it->second).shape != t.shape)
      throw DataError("gradc: " + from + ": tensor '" + t.name + "' has shape " + t.shape.str() + ", the model needs " +
                      g.node(it->second).shape.str());
  }
  for (const Node& n : g.nodes())
    if (n.op == Op::Parameter && (with_state || n.role == Role::Param || n.role == Role::Moving) &&
        !present.count(n.name))
      throw DataError("gradc: " + from + ": no tensor for " +
                      (n.role == Role::Param    ? "parameter '"
                       : n.role == Role::Moving ? "moving statistic '"
                                                : "optimizer state '") +
                      n.name + "'");
}

void restore(const Graph& g, Engine& e, const std::vector<NamedTensor>& ts, const std::string& from, bool with_state) {
  check_weights(g, ts, from, with_state);
  const auto params = params_by_name(g);
  for (const NamedTensor& t : ts)
    if (const auto it = params.find(t.name); it != params.end()) {
      auto d = e.f32(it->second);
      std::copy(t.data.begin(), t.data.end(), d.begin());
    }
}

std::vector<NamedTensor> eval_weights(const std::vector<NamedTensor>& state, bool ema, bool* used_ema) {
  std::unordered_map<std::string_view, const NamedTensor*> by_name;  // a crafted file may hold 300 000
  for (const NamedTensor& t : state) by_name.emplace(t.name, &t);
  auto find = [&](const std::string& name) -> const NamedTensor* {
    const auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
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
