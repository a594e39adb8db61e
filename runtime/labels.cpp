#include "runtime/labels.h"

namespace gradc {

std::string label_error(const Node& op, int32_t label, int64_t classes) {
  return "gradc: op '" + std::string(op_name(op.op)) + "' (" + op.where + "): label " + std::to_string(label) +
         " outside [0, " + std::to_string(classes) + ")";
}

std::vector<LabelCheck> label_checks(const Graph& g) {
  std::vector<LabelCheck> out;
  for (const Node& n : g.nodes()) {
    int labels = -1;
    int64_t classes = 0;
    if (n.op == Op::SoftmaxXent || n.op == Op::SoftmaxXentGrad) {
      labels = n.in[1];
      classes = g.node(n.in[0]).shape[1];
    } else if (n.op == Op::OneHot) {
      labels = n.in[0];
      classes = n.a.depth;
    }
    if (labels >= 0 && g.node(labels).op == Op::Input) out.push_back({labels, n.id, classes});
  }
  return out;
}

}  // namespace gradc
