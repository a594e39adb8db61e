// libFuzzer target: the tutorials' CSV format parser (label + 784 pixels per row).
#include <cstdint>
#include <string>

#include "runtime/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gradc::Dataset d = gradc::parse_csv(std::string(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    if (d.x.size() != static_cast<size_t>(d.n) * 784 || d.y.size() != static_cast<size_t>(d.n)) __builtin_trap();
  } catch (const gradc::DataError&) {
  }
  return 0;
}
