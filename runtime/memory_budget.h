// Memory a graph needs, checked against the machine before anything is allocated: a batch of 10^9
// or a 1048576-wide layer is one named error (exit 2 in the CLI), not std::bad_alloc deep inside.
#pragma once
#include <cstdint>
#include <string>

#include "autodiff/graph.h"

namespace gradc {

// This machine's physical memory in bytes.
int64_t physical_memory_bytes();

// Throws std::invalid_argument when `bytes` (what `what` would allocate) exceed physical memory,
// naming g's largest tensor as the likely cause.
void check_memory(int64_t bytes, const Graph& g, const std::string& what);

// Bytes of every tensor of g, one buffer each (what the reference interpreter allocates), saturated
// at INT64_MAX.
int64_t graph_bytes(const Graph& g);

}  // namespace gradc
