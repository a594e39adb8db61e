// libFuzzer target: the IDX parser must reject any malformed bytes with a DataError, never crash,
// read out of bounds or allocate from an unchecked header size.
#include <cstdint>
#include <vector>

#include "runtime/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gradc::IdxArray a = gradc::parse_idx(std::vector<uint8_t>(data, data + size), "fuzz.idx");
    uint64_t n = 1;
    for (int64_t d : a.dims) n *= static_cast<uint64_t>(d);
    if (n != a.data.size()) __builtin_trap();  // the parser's promise
  } catch (const gradc::DataError&) {
  }
  return 0;
}
