// FNV-1a 64 over 32-bit words: the checksums of tensors (the data-parallel ranks' weights, a
// checkpoint's evaluation weights, a training split's pixels). Cheap, stable across runs and
// machines, and exact in what it sees (every bit of every float).
#pragma once
#include <bit>
#include <cstdint>
#include <span>
#include <string_view>

namespace gradc {

class Fnv1a {
 public:
  void add(uint32_t word) { h_ = (h_ ^ word) * 0x100000001b3ULL; }
  void add(std::span<const float> v) {
    for (float x : v) add(std::bit_cast<uint32_t>(x));
  }
  void add(std::span<const int32_t> v) {
    for (int32_t x : v) add(static_cast<uint32_t>(x));
  }
  void add(std::string_view bytes) {
    for (unsigned char c : bytes) add(c);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace gradc
