// What a checkpoint must say before a run resumes from it: every metadata field is validated (a
// named error, exit 2, never a bare stoll or a negative index), and the recipe it was trained with
// must be this run's — a different seed, batch, optimizer or learning-rate schedule would silently
// make a different run — unless the user asks for it (--allow-recipe-change).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "models/train.h"

namespace gradc {

// Every setting that changes a run's trajectory, as text that round-trips exactly (floats as %.9g).
std::map<std::string, std::string> recipe_of(const TrainConfig& cfg);

// Adds "recipe.<key>" entries for recipe_of(cfg) to a checkpoint's metadata.
void add_recipe(std::map<std::string, std::string>& metadata, const TrainConfig& cfg);

// A non-negative decimal integer field of `metadata` at most `max`; throws DataError naming `path`,
// the field and the value otherwise (missing, empty, "abc", "-30", "1e3", "20x", out of range).
int64_t metadata_int(const std::map<std::string, std::string>& metadata, const std::string& key, int64_t max,
                     const std::string& path);

// Validates a checkpoint to resume `cfg` from (model, step within [0, total], recipe) and returns
// the step to continue at.
int64_t validate_resume(const Checkpoint& c, const std::string& path, const TrainConfig& cfg, int64_t total);

}  // namespace gradc
