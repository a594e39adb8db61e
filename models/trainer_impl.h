// The Trainer's private state, shared by trainer.cpp (setup, evaluation, checkpoints) and fit.cpp
// (the loop). Not installed.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "models/evaluator.h"
#include "models/trainer.h"
#include "runtime/checkpoint_list.h"
#include "runtime/comm.h"
#include "runtime/files.h"

namespace gradc {

using Clock = std::chrono::steady_clock;
inline double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Trainer::Impl {
  std::unique_ptr<Model> model;
  TrainStep ts;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Evaluator> eval;
  int x = -1, y = -1, key = -1, classes = 0;
  double compile_ms = 0;
  std::chrono::steady_clock::time_point t0, t_period;
  int64_t period_start = 0;
  float first_loss = 0;
  bool diverged = false;
  Comm* comm = nullptr;                    // the data-parallel world (one process: size 1)
  int64_t local_batch = 0;                 // this rank's slice of each global batch
  std::optional<CheckpointList> numbered;  // --keep-last's list, opened at the first numbered save
  bool resumed_in_place = false;           // resumed from a checkpoint in checkpoint_dir: continue its list
  std::optional<DirLock> dir_lock;         // checkpoint_dir, held from the first fit (rank 0)
};

}  // namespace gradc
