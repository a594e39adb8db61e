#include "runtime/checkpoint_list.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "runtime/data_error.h"
#include "runtime/files.h"

namespace gradc {

std::string numbered_checkpoint(int64_t step) { return "ckpt-" + std::to_string(step) + ".safetensors"; }

CheckpointList::CheckpointList(std::string dir, bool resume) : dir_(std::move(dir)) {
  const std::string path = dir_ + "/" + kFile;
  if (!resume || file_kind(path) == "missing") return;
  const nlohmann::json j = nlohmann::json::parse(read_regular(path, size_t{1} << 24), nullptr, false);
  auto bad = [&](const std::string& why) { return DataError("gradc: " + path + ": " + why); };
  if (!j.is_object() || !j.contains("checkpoints") || !j["checkpoints"].is_array())
    throw bad("not a gradc checkpoint list (expected {\"checkpoints\": [...]})");
  for (const nlohmann::json& e : j["checkpoints"]) {
    if (!e.is_object() || !e.contains("step") || !e["step"].is_number_integer() || !e.contains("file") ||
        !e["file"].is_string())
      throw bad("each entry needs an integer \"step\" and a \"file\"");
    const int64_t step = e["step"].get<int64_t>();
    // Only names this code writes: a list can never point pruning at another file.
    if (step < 0 || e["file"].get<std::string>() != numbered_checkpoint(step))
      throw bad("entry '" + e["file"].dump() + "' is not ckpt-STEP.safetensors for its step");
    entries_.push_back({numbered_checkpoint(step), step});
  }
}

void CheckpointList::add(int64_t step, int keep) {
  const std::string name = numbered_checkpoint(step);
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name; });  // rewritten after a resume
  entries_.push_back({name, step});
  while (keep > 0 && entries_.size() > static_cast<size_t>(keep)) {
    const std::string path = dir_ + "/" + entries_.front().name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw DataError("gradc: cannot remove old checkpoint " + path + ": " + std::strerror(errno));
    entries_.erase(entries_.begin());
  }
  write();
}

void CheckpointList::write() const {
  nlohmann::ordered_json j;
  j["format"] = "gradc-checkpoint-list-1";
  j["checkpoints"] = nlohmann::ordered_json::array();
  for (const Entry& e : entries_) j["checkpoints"].push_back({{"file", e.name}, {"step", e.step}});
  write_file(dir_ + "/" + kFile, j.dump(1) + "\n");
}

}  // namespace gradc
