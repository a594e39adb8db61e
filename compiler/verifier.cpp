#include "compiler/verifier.h"

namespace gradc {

namespace {
[[noreturn]] void fail(const std::string& context, const Graph& g, int id, const std::string& what) {
  std::string where;
  if (id >= 0 && static_cast<size_t>(id) < g.size()) {
    const Node& n = g.node(id);
    where = " node " + std::to_string(id) + " (" + op_name(n.op) + (n.name.empty() ? "" : " '" + n.name + "'") +
            (n.where.empty() ? "" : ", made at " + n.where) + ")";
  }
  throw VerifyError("gradc: verifier " + context + ":" + where + ": " + what);
}

void verify_node(const Graph& g, const Node& n, int pos, const std::string& context) {
  if (n.id != pos) fail(context, g, pos, "id " + std::to_string(n.id) + " at position " + std::to_string(pos));
  const OpInfo& info = op_info(n.op);
  if (static_cast<int>(n.in.size()) != info.arity)
    fail(context, g, pos, std::to_string(n.in.size()) + " inputs, the op takes " + std::to_string(info.arity));
  for (int i : n.in)
    if (i < 0 || i >= pos) fail(context, g, pos, "input " + std::to_string(i) + " does not precede the node");
  TypeInfo t;
  try {
    t = info.infer(g, n.in, n.a);
  } catch (const std::exception& e) {
    fail(context, g, pos, std::string("the shape rule rejects it: ") + e.what());
  }
  if (t.shape != n.shape) fail(context, g, pos, "shape " + n.shape.str() + ", the shape rule says " + t.shape.str());
  // Inputs and parameters carry the dtype they were declared with; every other node its rule's.
  if (info.kind != OpKind::Source && t.dtype != n.dtype)
    fail(context, g, pos, std::string("dtype ") + dtype_name(n.dtype) + ", the shape rule says " + dtype_name(t.dtype));
  const bool source = n.op == Op::Input || n.op == Op::Parameter;
  if (source != (n.role == Role::Input || n.role == Role::Param || n.role == Role::State || n.role == Role::Moving))
    fail(context, g, pos, "role does not match the op");
}
}  // namespace

void verify_graph(const Graph& g, const std::string& context) {
  const int n = static_cast<int>(g.size());
  for (int i = 0; i < n; ++i) verify_node(g, g.node(i), i, context);
  for (int o : g.outputs())
    if (o < 0 || o >= n) fail(context, g, -1, "output " + std::to_string(o) + " out of range");
  for (const Graph::Update& u : g.updates()) {
    if (u.param < 0 || u.param >= n || u.value < 0 || u.value >= n) fail(context, g, -1, "update out of range");
    const Node &p = g.node(u.param), &v = g.node(u.value);
    if (p.op != Op::Parameter) fail(context, g, u.param, "assigned to, but not a parameter");
    if (p.shape != v.shape || p.dtype != v.dtype)
      fail(context, g, u.param, "takes a " + v.shape.str() + " value from node " + std::to_string(u.value));
  }
}

void verify_rewrite(const Graph& before, const PassResult& after, const std::string& context) {
  const Graph& g = after.g;
  if (after.map.size() != before.size())
    fail(
        context, g, -1,
        "the map has " + std::to_string(after.map.size()) + " entries for " + std::to_string(before.size()) + " nodes");
  for (int m : after.map)
    if (m < -1 || m >= static_cast<int>(g.size())) fail(context, g, -1, "map entry " + std::to_string(m));
  auto mapped = [&](int old) { return after.map[static_cast<size_t>(old)]; };
  for (const Node& n : before.nodes()) {
    if (n.op != Op::Input && n.op != Op::Parameter) continue;
    const int m = mapped(n.id);
    if (m < 0) fail(context, before, n.id, "was removed (inputs and parameters bind by name)");
    const Node& d = g.node(m);
    if (d.op != n.op || d.name != n.name || d.role != n.role || d.shape != n.shape || d.dtype != n.dtype)
      fail(context, g, m, "changed the " + std::string(op_name(n.op)) + " '" + n.name + "'");
  }
  if (g.outputs().size() != before.outputs().size() || g.updates().size() != before.updates().size())
    fail(context, g, -1, "outputs or updates were added or lost");
  for (size_t k = 0; k < g.outputs().size(); ++k) {
    const int o = before.outputs()[k];
    if (mapped(o) != g.outputs()[k] || g.node(g.outputs()[k]).shape != before.node(o).shape)
      fail(context, g, g.outputs()[k], "output " + std::to_string(k) + " no longer maps to its node");
  }
  for (size_t k = 0; k < g.updates().size(); ++k)
    if (g.updates()[k].param != mapped(before.updates()[k].param))
      fail(context, g, g.updates()[k].param, "update " + std::to_string(k) + " assigns another parameter");
}

}  // namespace gradc
