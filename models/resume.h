// What a checkpoint must say before a run resumes from it: every metadata field is validated (a
// named error, exit 2, never a bare stoll or a negative index), and the recipe it was trained with
// must be this run's — a different seed, batch, optimizer or learning-rate schedule would silently
// make a different run — unless the user asks for it (--allow-recipe-change).
#pragma once
#include <cstdint>
#include <limits>
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

// What the training loop remembers between steps beyond the weights and optimizer state: saved in
// every checkpoint so that a resumed run equals an unbroken one with --keep-best, --early-stop and
// evaluation points that fall between checkpoints.
struct LoopState {
  // keep-best: the lowest validation loss so far (inf: none yet) and the step of those weights.
  double best_val = std::numeric_limits<double>::infinity();
  int64_t best_step = 0;
  double prev_epoch_acc = -1;  // early stop: the previous epoch's training accuracy (-1: none)
  double run_loss = 0;         // running sums since the last evaluation point
  int64_t run_steps = 0, run_correct = 0, run_count = 0;
};
void add_state(std::map<std::string, std::string>& metadata, const LoopState& s);
// Throws DataError naming `path` and the field when one is missing or not a number.
LoopState read_state(const std::map<std::string, std::string>& metadata, const std::string& path);

// Validates a checkpoint to resume `cfg` from (model, step within [0, total], recipe) and returns
// the step to continue at.
int64_t validate_resume(const Checkpoint& c, const std::string& path, const TrainConfig& cfg, int64_t total);

}  // namespace gradc
