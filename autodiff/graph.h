// Graph IR: an append-only list of nodes in topological order (inputs always precede users).
#pragma once
#include <source_location>
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/op_table.h"

namespace gradc {

// Thrown by shape inference and DSL misuse; the message names the op, the shapes and the call site.
class GraphError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Param = trainable parameter; State = non-trainable persistent tensor (optimizer slots, EMA).
// Param: trainable weights. Moving: non-trainable weights of the model (batch norm's moving
// statistics) — saved, restored for evaluation, never given to the optimizer. State: the
// optimizer's accumulators (saved and resumed, not needed to evaluate).
enum class Role : uint8_t { Op, Input, Param, Grad, Output, State, Moving };

struct Node {
  int id = -1;
  Op op = Op::Input;
  std::vector<int> in;
  Shape shape;
  DType dtype = DType::F32;
  Attrs a;
  std::string name;  // inputs/params: the user's name; others: optional label
  Role role = Role::Op;
  std::string where;  // "file:line" of the DSL call that made it
};

struct Tensor {
  Graph* g = nullptr;
  int id = -1;
  bool valid() const { return g != nullptr && id >= 0; }
  const Node& node() const;
  Shape shape() const;  // by value: adding nodes may move the storage
  DType dtype() const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = default;
  Graph& operator=(const Graph&) = default;

  // Adds a node after running the op's shape rule; throws GraphError naming op, shapes and `loc`.
  Tensor add(Op op, std::vector<int> in, Attrs a = {}, std::source_location loc = std::source_location::current());
  Tensor input(const std::string& name, Shape s, DType t = DType::F32,
               std::source_location loc = std::source_location::current());
  Tensor param(const std::string& name, Shape s, Init init, float scale = 0.f,
               std::source_location loc = std::source_location::current());
  // A persistent non-trainable tensor (op parameter, role State), e.g. an optimizer accumulator.
  Tensor state(const std::string& name, Shape s, Init init, float value = 0.f,
               std::source_location loc = std::source_location::current());
  // A non-trainable weight of the model (role Moving), e.g. batch norm's moving mean.
  Tensor moving(const std::string& name, Shape s, Init init, float value = 0.f,
                std::source_location loc = std::source_location::current());

  const Node& node(int id) const { return nodes_.at(static_cast<size_t>(id)); }
  Node& node(int id) { return nodes_.at(static_cast<size_t>(id)); }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  size_t size() const { return nodes_.size(); }
  Tensor tensor(int id) { return {this, id}; }

  std::vector<Tensor> params();                // trainable parameters only
  Tensor find(const std::string& name);        // input or parameter by name; throws if unknown
  int find_id(const std::string& name) const;  // -1 if unknown

  // Outputs a compiled program/the interpreter must keep (loss, gradients, updated params).
  void mark_output(Tensor t, const std::string& name);
  const std::vector<int>& outputs() const { return outputs_; }
  std::vector<int>& outputs() { return outputs_; }

  // State updates of a training step: after every node ran, `param` takes `value`'s contents (like a
  // TF assign at the end of the step). Shapes must match.
  struct Update {
    int param, value;
  };
  void assign(Tensor param, Tensor value, std::source_location loc = std::source_location::current());
  const std::vector<Update>& updates() const { return updates_; }

  uint64_t seed = 42;  // base seed for parameter initialisation
  std::string name;    // model name, used in DOT output

 private:
  std::vector<Node> nodes_;
  std::vector<int> outputs_;
  std::vector<Update> updates_;
};

std::string where_str(const std::source_location& loc);

}  // namespace gradc
