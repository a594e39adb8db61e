// Static tensor shapes (rank <= 4) and element types.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace gradc {

enum class DType : uint8_t { F32, I32 };
const char* dtype_name(DType t);

struct Shape {
  static constexpr int kMaxRank = 4;
  int rank = 0;
  std::array<int64_t, kMaxRank> d{};

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape scalar() { return {}; }

  int64_t operator[](int i) const { return d[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return d[static_cast<size_t>(i)]; }
  int64_t numel() const;
  // Product of the dims before / from `axis` (used to view tensors as 2-D).
  int64_t rows() const { return rank == 0 ? 1 : numel() / d[static_cast<size_t>(rank - 1)]; }
  int64_t cols() const { return rank == 0 ? 1 : d[static_cast<size_t>(rank - 1)]; }
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  Shape without_axis(int axis) const;
  Shape with_axis(int axis, int64_t n) const;
  std::string str() const;
};

}  // namespace gradc
