// Counter-based hashing shared by the interpreter and the JIT so both draw identical dropout masks.
#pragma once
#include <cstdint>

namespace gradc {

// A 32-bit integer finaliser (xorshift-multiply); cheap to emit as IR and stateless.
constexpr uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// 24-bit threshold: an element is kept when its 24-bit hash is >= rate·2^24.
constexpr uint32_t dropout_threshold(float rate) {
  return static_cast<uint32_t>(static_cast<double>(rate) * 16777216.0);
}
constexpr bool dropout_keep(uint32_t key, uint32_t index, uint32_t threshold) {
  return (mix32(index ^ mix32(key + 0x9e3779b9u)) >> 8) >= threshold;
}

}  // namespace gradc
