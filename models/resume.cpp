#include "models/resume.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gradc {

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

const char* schedule_name(Schedule::Kind k) {
  switch (k) {
    case Schedule::Kind::Constant:
      return "constant";
    case Schedule::Kind::Exponential:
      return "exponential";
    case Schedule::Kind::PerEpoch:
      return "per-epoch";
  }
  return "?";
}
}  // namespace

std::map<std::string, std::string> recipe_of(const TrainConfig& c) {
  return {{"seed", std::to_string(c.seed)},
          {"batch", std::to_string(c.batch)},
          {"optimizer", optimizer_name(c.opt.kind)},
          {"lr", num(c.lr)},
          {"schedule", schedule_name(c.schedule.kind)},
          {"decay_rate", num(c.schedule.rate)},
          {"decay_steps", std::to_string(c.schedule.decay_steps)},
          {"staircase", c.schedule.staircase ? "1" : "0"},
          {"momentum", num(c.opt.momentum)},
          {"clip", num(c.opt.clip_norm)},
          {"l2", num(c.opt.l2)},
          {"ema", num(c.opt.ema_decay)},
          {"loss_reduction", c.sum_loss ? "sum" : "mean"},
          {"dataset", c.dataset},
          {"first_n", std::to_string(c.first_n)},
          {"train_n", std::to_string(c.train_n)},
          {"val_n", std::to_string(c.val_n)},
          {"val_fraction", num(c.val_fraction)},
          {"shuffle_split", c.shuffle_split ? "1" : "0"}};
}

void add_recipe(std::map<std::string, std::string>& metadata, const TrainConfig& cfg) {
  for (const auto& [k, v] : recipe_of(cfg)) metadata["recipe." + k] = v;
}

int64_t metadata_int(const std::map<std::string, std::string>& metadata, const std::string& key, int64_t max,
                     const std::string& path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw DataError("gradc: " + path + ": metadata has no '" + key + "'");
  const std::string& s = it->second;
  bool ok = !s.empty() && s.size() <= 18;  // 18 digits cannot overflow int64
  for (char ch : s) ok &= ch >= '0' && ch <= '9';
  const int64_t v = ok ? std::stoll(s) : -1;
  if (!ok || v > max)
    throw DataError("gradc: " + path + ": metadata '" + key + "' is '" + s.substr(0, 40) +
                    "', expected an integer in [0, " + std::to_string(max) + "]");
  return v;
}

void add_state(std::map<std::string, std::string>& metadata, const LoopState& s) {
  auto exact = [](double v) {  // %.17g round-trips every double, "inf" included
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  metadata["state.best_val"] = exact(s.best_val);
  metadata["state.prev_epoch_acc"] = exact(s.prev_epoch_acc);
  metadata["state.run_loss"] = exact(s.run_loss);
  metadata["state.best_step"] = std::to_string(s.best_step);
  metadata["state.run_steps"] = std::to_string(s.run_steps);
  metadata["state.run_correct"] = std::to_string(s.run_correct);
  metadata["state.run_count"] = std::to_string(s.run_count);
}

LoopState read_state(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto real = [&](const std::string& key) {
    auto it = metadata.find(key);
    if (it == metadata.end()) throw DataError("gradc: " + path + ": metadata has no '" + key + "'");
    const char* b = it->second.c_str();
    char* end = nullptr;
    const double v = std::strtod(b, &end);
    if (end == b || *end != '\0' || std::isnan(v))
      throw DataError("gradc: " + path + ": metadata '" + key + "' is '" + it->second.substr(0, 40) +
                      "', expected a number");
    return v;
  };
  constexpr int64_t kMax = int64_t{1} << 53;
  LoopState s;
  s.best_val = real("state.best_val");
  s.prev_epoch_acc = real("state.prev_epoch_acc");
  s.run_loss = real("state.run_loss");
  s.run_steps = metadata_int(metadata, "state.run_steps", kMax, path);
  s.run_correct = metadata_int(metadata, "state.run_correct", kMax, path);
  s.run_count = metadata_int(metadata, "state.run_count", kMax, path);
  s.best_step = metadata_int(metadata, "state.best_step", kMax, path);
  return s;
}

int64_t validate_resume(const Checkpoint& c, const std::string& path, const TrainConfig& cfg, int64_t total) {
  auto field = [&](const std::string& k) {
    auto it = c.metadata.find(k);
    return it == c.metadata.end() ? std::string("(missing)") : it->second;
  };
  if (field("model") != cfg.model)
    throw DataError("gradc: " + path + ": a '" + field("model") + "' checkpoint, not '" + cfg.model + "'");
  const int64_t step = metadata_int(c.metadata, "step", total, path);
  if (cfg.allow_recipe_change) return step;
  std::string diff;
  for (const auto& [k, v] : recipe_of(cfg)) {
    const std::string was = field("recipe." + k);
    if (was != v) diff += (diff.empty() ? "" : ", ") + k + " " + was + " -> " + v;
  }
  if (!diff.empty())
    throw DataError("gradc: " + path + ": trained with another recipe (" + diff +
                    "); resuming would not continue that run (--allow-recipe-change to resume anyway)");
  return step;
}

}  // namespace gradc
