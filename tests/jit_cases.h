// Graphs exercising each op of the table, shared by the JIT tests.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autodiff/graph.h"

namespace gradc::testing_cases {

struct OpCase {
  std::string label;
  std::function<Tensor(Graph&, int64_t rows)> build;  // returns the node under test
};

// Every op except the sources; rows = the leading dimension to sweep (1, 7, 30, 128).
std::map<Op, std::vector<OpCase>> op_cases();

}  // namespace gradc::testing_cases
