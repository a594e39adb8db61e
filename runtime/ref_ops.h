// Reference implementation of every op in the table: plain loops, double accumulation, no SIMD
// tricks. This is the oracle the JIT is tested against, so clarity beats speed here. Each kernel
// is a template over the element type: float is the oracle, double runs float64 gradient checks.
#pragma once
#include <vector>

#include "autodiff/graph.h"
#include "runtime/value.h"

namespace gradc {

template <class T>
using RefFn = void (*)(const Node& n, const std::vector<const BasicValue<T>*>& in, BasicValue<T>& out);

template <class T>
RefFn<T> ref_kernel(Op op);

extern template RefFn<float> ref_kernel<float>(Op);
extern template RefFn<double> ref_kernel<double>(Op);

}  // namespace gradc
