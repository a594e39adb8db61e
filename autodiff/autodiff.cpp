#include "autodiff/autodiff.h"

#include "autodiff/dsl.h"

namespace gradc {

std::vector<Tensor> grad(Tensor loss, const std::vector<Tensor>& wrt) {
  if (!loss.valid()) throw GraphError("gradc: grad of an empty tensor");
  Graph& g = *loss.g;
  if (loss.shape().numel() != 1 || loss.dtype() != DType::F32)
    throw GraphError("gradc: grad needs a scalar f32 loss, got " + std::string(dtype_name(loss.dtype())) + " " +
                     loss.shape().str() + " from op '" + op_name(loss.node().op) + "' (at " + loss.node().where + ")");
  const size_t n0 = static_cast<size_t>(loss.id) + 1;
  // Forward reachability from wrt: only those nodes need adjoints.
  std::vector<char> needs(n0, 0);
  for (const Tensor& w : wrt) {
    if (w.g != &g) throw GraphError("gradc: grad wrt a tensor of another graph");
    if (static_cast<size_t>(w.id) < n0) needs[static_cast<size_t>(w.id)] = 1;
  }
  for (size_t i = 0; i < n0; ++i)
    for (int j : g.node(static_cast<int>(i)).in)
      if (needs[static_cast<size_t>(j)] && g.node(j).dtype == DType::F32) needs[i] = 1;

  std::vector<Tensor> adj(n0);
  adj[static_cast<size_t>(loss.id)] = constant(g, 1.f, loss.shape());
  for (int id = loss.id; id >= 0; --id) {
    Tensor dy = adj[static_cast<size_t>(id)];
    if (!dy.valid() || !needs[static_cast<size_t>(id)]) continue;
    const Node n = g.node(id);  // copy: the rule appends nodes and may reallocate storage
    if (n.op == Op::Input || n.op == Op::Parameter || n.op == Op::Constant) continue;
    const OpInfo& info = op_info(n.op);
    if (!info.grad)
      throw GraphError("gradc: cannot differentiate op '" + std::string(info.name) + "' (at " + n.where +
                       "): it is a backward-only op, and higher-order derivatives are not supported");
    const size_t before = g.size();
    std::vector<Tensor> dx(n.in.size());
    info.grad(n, {&g, id}, dy, dx);
    for (size_t k = before; k < g.size(); ++k) g.node(static_cast<int>(k)).where = "∂ " + n.where;
    for (size_t k = 0; k < n.in.size(); ++k) {
      const auto src = static_cast<size_t>(n.in[k]);
      if (!dx[k].valid() || !needs[src]) continue;
      adj[src] = adj[src].valid() ? add(adj[src], dx[k]) : dx[k];
    }
  }
  std::vector<Tensor> out;
  for (const Tensor& w : wrt) {
    Tensor d = static_cast<size_t>(w.id) < n0 ? adj[static_cast<size_t>(w.id)] : Tensor{};
    if (!d.valid()) d = constant(g, 0.f, w.shape());
    Node& dn = g.node(d.id);
    if (dn.role == Role::Op || dn.role == Role::Output) {
      dn.role = Role::Grad;
      dn.name = "grad/" + w.node().name;
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace gradc
