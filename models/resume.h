// What a checkpoint must say before a run resumes from it: every metadata field is validated (a
// named error, exit 2, never a bare stoll or a negative index), and the recipe it was trained with
// must be this run's — a different seed, batch, optimizer or learning-rate schedule would silently
// make a different run — unless the user asks for it (--allow-recipe-change).
#pragma once
#include <map>
#include <string>

#include "models/train.h"

namespace gradc {

// Every setting that changes a run's trajectory, as text that round-trips exactly (floats as %.9g).
std::map<std::string, std::string> recipe_of(const TrainConfig& cfg);

// The training split's identity for the recipe: its size and a checksum of its pixels and labels
// (another --data, --dataset or split is another run).
std::string data_fingerprint(const Dataset& train);

// Adds "recipe.<key>" entries for recipe_of(cfg) to a checkpoint's metadata.
void add_recipe(std::map<std::string, std::string>& metadata, const TrainConfig& cfg);

// Throws DataError naming `path` unless the checkpoint was trained with cfg's recipe (or
// cfg.allow_recipe_change). The Trainer checks the model, step and loop state when it resumes.
void validate_resume(const Checkpoint& c, const std::string& path, const TrainConfig& cfg);

}  // namespace gradc
