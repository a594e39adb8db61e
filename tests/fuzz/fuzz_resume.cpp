// libFuzzer target: the resume path — a checkpoint's bytes parsed, then its metadata validated as
// `gradc train linear --resume` does (step, recipe, loop state). Anything but a named DataError is
// a finding; an accepted step must lie within the run.
#include <cstdint>
#include <string>

#include "models/metadata.h"
#include "models/resume.h"
#include "runtime/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gradc::TrainConfig cfg;
  cfg.model = "linear";
  try {
    const gradc::Checkpoint c =
        gradc::parse_checkpoint(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    for (bool allow : {false, true}) {
      cfg.allow_recipe_change = allow;
      try {
        gradc::validate_resume(c, "fuzz.safetensors", cfg);
        const int64_t step = gradc::metadata_int(c.metadata, "step", 1000, "fuzz.safetensors");
        if (step < 0 || step > 1000) __builtin_trap();
        for (const char* k : {"state.run_loss", "state.best_val"}) gradc::metadata_real(c.metadata, k, "f");
        gradc::metadata_int(c.metadata, "state.run_steps", int64_t{1} << 53, "fuzz.safetensors");
      } catch (const gradc::DataError&) {
      }
    }
  } catch (const gradc::DataError&) {
  }
  return 0;
}
