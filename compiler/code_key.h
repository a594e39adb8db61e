// The JIT cache's key: every field of a graph that changes the generated code, as bytes. Two graphs
// with equal keys compile to the same kernels and plan; the cache compares keys byte for byte (a
// hash only picks the bucket), so a hash collision can never hand back another graph's code.
// Initial values are not code: a parameter's initializer, scale and seed are left out, and a
// Program takes them from its own graph (runtime/program.cpp).
#pragma once
#include <cstdint>
#include <string>

#include "autodiff/graph.h"
#include "compiler/target.h"

namespace gradc {

std::string code_key(const Graph& g);
// One node's op, dtype, role, shape and every attribute bit for bit, with inputs `in`: CSE's key.
std::string node_key(const Node& n, const std::vector<int>& in);
// Every field of the target that the schedule or codegen reads.
std::string target_key(const Target& t);
uint64_t key_hash(const std::string& key);  // FNV-1a 64

}  // namespace gradc
