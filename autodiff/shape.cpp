#include "autodiff/shape.h"

#include <stdexcept>

namespace gradc {

const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : "i32"; }

Shape::Shape(std::initializer_list<int64_t> dims) {
  if (dims.size() > kMaxRank) throw std::invalid_argument("gradc: shape rank > 4 is not supported");
  for (int64_t v : dims) d[static_cast<size_t>(rank++)] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= d[static_cast<size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (d[static_cast<size_t>(i)] != o.d[static_cast<size_t>(i)]) return false;
  return true;
}

Shape Shape::without_axis(int axis) const {
  Shape s;
  for (int i = 0; i < rank; ++i)
    if (i != axis) s.d[static_cast<size_t>(s.rank++)] = d[static_cast<size_t>(i)];
  return s;
}

Shape Shape::with_axis(int axis, int64_t n) const {
  if (rank >= kMaxRank) throw std::invalid_argument("gradc: shape rank > 4 is not supported");
  Shape s;
  for (int i = 0; i <= rank; ++i) {
    if (i == axis) s.d[static_cast<size_t>(s.rank++)] = n;
    if (i < rank) s.d[static_cast<size_t>(s.rank++)] = d[static_cast<size_t>(i)];
  }
  return s;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ",";
    s += std::to_string(d[static_cast<size_t>(i)]);
  }
  return s + "]";
}

}  // namespace gradc
