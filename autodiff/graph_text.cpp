#include "autodiff/graph_text.h"

#include <cstdio>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace gradc {

namespace {
template <class T>
std::string value_text(const T& v) {
  if constexpr (std::is_same_v<T, Shape>) {
    return v.str();
  } else if constexpr (std::is_same_v<T, std::vector<float>>) {
    return "<" + std::to_string(v.size()) + " values>";
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return buf;
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<int>(v));
  } else {
    return std::to_string(v);
  }
}
// Each field as text, in for_each_attr's order (%.9g round-trips every float).
std::vector<std::pair<std::string_view, std::string>> fields_text(const Attrs& a) {
  std::vector<std::pair<std::string_view, std::string>> out;
  for_each_attr(a, [&](std::string_view name, const auto& field) { out.emplace_back(name, value_text(field)); });
  return out;
}
}  // namespace

std::string attrs_text(const Attrs& a) {
  static const auto defaults = fields_text(Attrs{});
  const auto mine = fields_text(a);
  std::string s;
  for (size_t i = 0; i < mine.size(); ++i)
    if (mine[i].second != defaults[i].second)
      s += (s.empty() ? "" : " ") + std::string(mine[i].first) + "=" + mine[i].second;
  return s;
}

std::string graph_text(const Graph& g) {
  std::string s = "# " + (g.name.empty() ? std::string("graph") : g.name) + ": " + std::to_string(g.size()) +
                  " nodes, " + std::to_string(g.outputs().size()) + " outputs, " + std::to_string(g.updates().size()) +
                  " updates\n";
  for (const Node& n : g.nodes()) {
    std::string line = "%" + std::to_string(n.id) + " = " + op_name(n.op);
    if (!n.in.empty()) {
      line += "(";
      for (size_t i = 0; i < n.in.size(); ++i) line += (i ? ", %" : "%") + std::to_string(n.in[i]);
      line += ")";
    }
    line += " " + n.shape.str() + (n.dtype == DType::I32 ? " i32" : "");
    if (const std::string at = attrs_text(n.a); !at.empty()) line += " " + at;
    if (!n.name.empty()) line += "  '" + n.name + "'";
    if (!n.where.empty()) line += "  @ " + n.where;
    s += line + "\n";
  }
  for (int o : g.outputs()) s += "output %" + std::to_string(o) + "\n";
  for (const Graph::Update& u : g.updates())
    s += "update %" + std::to_string(u.param) + " <- %" + std::to_string(u.value) + "\n";
  return s;
}

}  // namespace gradc
