// A host tensor value as the reference interpreter holds it. T is the element type of floating
// tensors: float for the oracle the JIT is tested against, double for float64 gradient checks.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/shape.h"

namespace gradc {

template <class T>
struct BasicValue {
  Shape shape;
  DType dtype = DType::F32;
  std::vector<T> f;        // floating contents (the graph's F32 tensors, held as T)
  std::vector<int32_t> i;  // i32 contents (labels, dropout keys)

  static BasicValue zeros(const Shape& s, DType t = DType::F32) {
    BasicValue v;
    v.shape = s;
    v.dtype = t;
    if (t == DType::F32)
      v.f.assign(static_cast<size_t>(s.numel()), T(0));
    else
      v.i.assign(static_cast<size_t>(s.numel()), 0);
    return v;
  }
};

using Value = BasicValue<float>;
using Value64 = BasicValue<double>;

}  // namespace gradc
