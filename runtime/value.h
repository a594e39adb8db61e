// A host tensor value as the reference interpreter holds it.
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/shape.h"

namespace gradc {

struct Value {
  Shape shape;
  DType dtype = DType::F32;
  std::vector<float> f;    // f32 contents
  std::vector<int32_t> i;  // i32 contents (labels, dropout keys)

  static Value zeros(const Shape& s, DType t = DType::F32) {
    Value v;
    v.shape = s;
    v.dtype = t;
    if (t == DType::F32)
      v.f.assign(static_cast<size_t>(s.numel()), 0.f);
    else
      v.i.assign(static_cast<size_t>(s.numel()), 0);
    return v;
  }
};

}  // namespace gradc
