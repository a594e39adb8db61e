// A graph rewrite's bookkeeping: copies nodes of the source graph into a new one, remembering where
// each went (old id -> new id), and counts every node's uses in the source and lists its readers. Passes map each node,
// then finish() carries the outputs and parameter updates over.
#pragma once
#include <vector>

#include "autodiff/graph.h"
#include "compiler/passes.h"

namespace gradc {

class Rewriter {
 public:
  explicit Rewriter(const Graph& src) : src_(src), map_(src.size(), -1) {
    dst_.seed = src.seed;
    dst_.name = src.name;
    uses_.assign(src.size(), 0);
    readers_.resize(src.size());
    for (const Node& n : src.nodes())
      for (int i : n.in) ++uses_[static_cast<size_t>(i)], readers_[static_cast<size_t>(i)].push_back(n.id);
    for (int o : src.outputs()) ++uses_[static_cast<size_t>(o)];
    for (const Graph::Update& u : src.updates()) ++uses_[static_cast<size_t>(u.value)];
  }

  int uses(int id) const { return uses_[static_cast<size_t>(id)]; }
  // The source nodes reading `id` (once per input that is id), in node order.
  const std::vector<int>& readers(int id) const { return readers_[static_cast<size_t>(id)]; }
  int mapped(int id) const { return map_[static_cast<size_t>(id)]; }
  void set_map(int old_id, int new_id) { map_[static_cast<size_t>(old_id)] = new_id; }
  const Graph& src() const { return src_; }
  Graph& dst() { return dst_; }

  // Emits `n` with the given (new) inputs and attributes, keeping its name, role and location.
  int emit(const Node& n, Op op, std::vector<int> in, const Attrs& a) {
    Tensor t = dst_.add(op, std::move(in), a);
    Node& d = dst_.node(t.id);
    d.dtype = n.dtype;
    d.name = n.name;
    d.role = n.role;
    d.where = n.where;
    return t.id;
  }
  // Marks a node emitted for n that is not n's last: only the replacement's final node keeps
  // n's name and role (an output or a gradient).
  int inner(int id) {
    Node& d = dst_.node(id);
    d.name.clear();
    d.role = Role::Op;
    return id;
  }
  int copy(const Node& n) {
    std::vector<int> in;
    for (int i : n.in) in.push_back(mapped(i));
    return emit(n, n.op, in, n.a);
  }

  PassResult finish() {
    for (int o : src_.outputs()) dst_.outputs().push_back(mapped(o));
    for (const Graph::Update& u : src_.updates()) dst_.assign({&dst_, mapped(u.param)}, {&dst_, mapped(u.value)});
    return {std::move(dst_), map_};
  }

 private:
  const Graph& src_;
  Graph dst_;
  std::vector<int> map_;
  std::vector<int> uses_;
  std::vector<std::vector<int>> readers_;
};

}  // namespace gradc
