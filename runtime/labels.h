// Class-index inputs (labels of softmax_xent / softmax_xent_grad, indices of one_hot) are checked
// where they enter, by both engines with the same message: the JIT's kernels index memory by them,
// so an out-of-range label would read or write outside a row.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

// "gradc: op 'softmax_xent' (mlp.cpp:12): label 12 outside [0, 10)"
std::string label_error(const Node& op, int32_t label, int64_t classes);

struct LabelCheck {
  int input;        // the i32 Input node holding the labels
  int op;           // the node that indexes by them
  int64_t classes;  // valid labels are [0, classes)
};

// Every (Input, consuming op, class count) of g; labels computed inside the graph are not listed.
std::vector<LabelCheck> label_checks(const Graph& g);

}  // namespace gradc
