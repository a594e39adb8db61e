#include "models/resume.h"

#include <cstdio>

#include "models/metadata.h"
#include "models/models.h"
#include "runtime/checksum.h"

namespace gradc {

namespace {
std::string num(double v) { return format("%.9g", v); }  // floats round-trip at 9 digits
std::string format_hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Every recipe field, whatever the schedule.
std::map<std::string, std::string> recipe_fields(const TrainConfig& c) {
  const ModelSpec& spec = find_model(c.model);
  return {{"seed", std::to_string(c.seed)},
          {"arch", spec.kind == ArchKind::Fixed ? "fixed" : arch_text(c.arch, spec.kind)},
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
          {"shuffle_split", c.shuffle_split ? "1" : "0"},
          {"plateau",
           c.plateau_factor > 0 ? num(c.plateau_factor) + " " + c.monitor + " " + std::to_string(c.patience) : "off"},
          // What the callbacks decide and when they look: another monitor, patience, keep-best,
          // early stop or evaluation cadence changes which weights a run keeps and when it stops.
          {"monitor", c.monitor},
          {"patience", std::to_string(c.patience)},
          {"keep_best", c.keep_best ? "1" : "0"},
          {"early_stop", c.early_stop ? "1" : "0"},
          {"periods", c.steps > 0 ? std::to_string(c.periods) : "epochs"},
          {"engine", c.engine == EngineKind::Jit ? "jit" : "reference"},
          {"data", c.data_fingerprint.empty() ? "unchecked" : c.data_fingerprint}};
}
}  // namespace

std::map<std::string, std::string> recipe_of(const TrainConfig& c) {
  std::map<std::string, std::string> r = recipe_fields(c);
  if (c.bf16) r["precision"] = "bf16";                // absent: f32, as every run before the option
  if (c.schedule.kind == Schedule::Kind::OneCycle) {  // its rate at a step depends on the run's length
    r["warmup"] = num(c.schedule.warmup);
    r["one_cycle_length"] = c.steps > 0 ? std::to_string(c.steps) + " steps" : std::to_string(c.epochs) + " epochs";
  }
  return r;
}

std::string data_fingerprint(const Dataset& train) {
  Fnv1a sum;  // ~0.1 s for MNIST's 47 M values
  sum.add(train.x);
  sum.add(train.y);
  return std::to_string(train.n) + " examples, fnv1a " + format_hex(sum.value());
}

void add_recipe(std::map<std::string, std::string>& metadata, const TrainConfig& cfg) {
  for (const auto& [k, v] : recipe_of(cfg)) metadata["recipe." + k] = v;
}

void validate_resume(const Checkpoint& c, const std::string& path, const TrainConfig& cfg) {
  auto field = [&](const std::string& k) {
    auto it = c.metadata.find(k);
    return it == c.metadata.end() ? std::string("(missing)") : it->second;
  };
  if (field("model") != cfg.model)
    throw DataError("gradc: " + path + ": a '" + field("model") + "' checkpoint, not '" + cfg.model + "'");
  if (cfg.allow_recipe_change) return;
  std::string diff;
  for (const auto& [k, v] : recipe_of(cfg)) {
    const std::string was = field("recipe." + k);
    if (was != v) diff += (diff.empty() ? "" : ", ") + k + " " + was + " -> " + v;
  }
  if (!diff.empty())
    throw DataError("gradc: " + path + ": trained with another recipe (" + diff +
                    "); resuming would not continue that run (--allow-recipe-change to resume anyway)");
}

}  // namespace gradc
