// libFuzzer target: the safetensors checkpoint parser.
#include <cstdint>
#include <string>

#include "runtime/checkpoint.h"
#include "runtime/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gradc::Checkpoint c =
        gradc::parse_checkpoint(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    for (const auto& t : c.tensors)
      if (static_cast<int64_t>(t.data.size()) != t.shape.numel()) __builtin_trap();
  } catch (const gradc::DataError&) {
  }
  return 0;
}
