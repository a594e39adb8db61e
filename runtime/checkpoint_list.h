// The numbered checkpoints of one run (--keep-last, tf.train.CheckpointManager's max_to_keep).
// The run lists what it wrote in CHECKPOINT_DIR/checkpoints.json, oldest first, and prunes only
// files on that list: never a file another run (or a person) left in the directory, never by the
// numbers in file names. A fresh run starts a new list (an older run's files stay, untouched); a
// run resumed from its own directory continues the list it finds there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gradc {

std::string numbered_checkpoint(int64_t step);  // "ckpt-STEP.safetensors"

class CheckpointList {
 public:
  struct Entry {
    std::string name;
    int64_t step;
  };
  static constexpr const char* kFile = "checkpoints.json";

  // `resume`: continue dir's list (a missing one is empty); else start a new one. A list that is
  // not ours (bad JSON, names that are not ckpt-STEP.safetensors) is a DataError naming the file.
  CheckpointList(std::string dir, bool resume);
  // Records dir/name (just written for `step`), removes the oldest listed files beyond `keep` (a
  // listed name that is now a link, a directory or missing is dropped from the list, not followed),
  // and writes the list atomically.
  void add(int64_t step, int keep);
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  void write() const;
  std::string dir_;
  std::vector<Entry> entries_;
};

}  // namespace gradc
