// Checkpoints in the safetensors format (8-byte little-endian header length, JSON header with
// dtype/shape/data_offsets per tensor and string metadata, then the raw data), readable by Python's
// safetensors and numpy. Written atomically: temp file, fsync, rename, fsync of the directory.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "autodiff/shape.h"

namespace gradc {

struct NamedTensor {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

struct Checkpoint {
  std::map<std::string, std::string> metadata;
  std::vector<NamedTensor> tensors;
  const NamedTensor* find(const std::string& name) const;
};

void save_checkpoint(const std::string& path, const Checkpoint& c);
// Throws DataError naming the file and what is wrong (truncation, bad JSON, bad offsets, dtype).
Checkpoint load_checkpoint(const std::string& path);

// The same from bytes in memory (`name` for messages); what the fuzz target calls.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name);

}  // namespace gradc
