// gradc export --checkpoint F -o DIR: the trained model as model.o + model.h (+ model_weights.bin),
// which a C program links without LLVM or gradc (compiler/aot.h).
#include <chrono>
#include <filesystem>

#include "models/export.h"
#include "models/metadata.h"
#include "models/params.h"
#include "models/train.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace gradc::cli {

namespace {
// The batch a checkpoint was trained with (its recipe.batch), else the model's default.
int64_t recipe_batch(const Checkpoint& c, const std::string& model, const std::string& path) {
  if (!c.metadata.count("recipe.batch")) return find_model(model).default_batch;
  return metadata_int(c.metadata, "recipe.batch", 65536, path);  // 0 is refused by export_model's --batch check
}

struct ExportOpts {
  std::string checkpoint, out, model, prefix = "gradc_model", asm_file;
  int64_t batch = 0;  // 0: 100 for predict, the recipe's batch for --train-step
  int threads = 1;
  bool embed = false, raw_weights = false, train_step = false;
  CompileFlags flags;
};

// DIR must be a directory or missing with an existing parent (created when the files are written).
void check_out_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string kind = file_kind(dir);
  if (kind == "missing") {
    const fs::path parent = fs::path(dir).lexically_normal().parent_path();
    if (!parent.empty() && file_kind(parent.string()) != "a directory")
      throw UsageError("gradc: -o " + dir + ": the directory " + parent.string() + " does not exist");
  } else if (kind != "a directory") {
    throw UsageError("gradc: -o " + dir + ": is " + kind + ", not a directory");
  }
}

// Writes every file or none: each is written atomically; after a failure the ones already
// written by this command, and the directory if this command created it, are removed.
void write_all(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  const bool created = file_kind(dir) == "missing";
  make_dirs(dir, "-o");
  std::vector<std::string> done;
  try {
    for (const auto& [path, content] : files) {
      check_output_file(path, "-o");
      write_file(path, content);
      done.push_back(path);
    }
  } catch (...) {
    std::error_code ec;
    for (const std::string& p : done) std::filesystem::remove(p, ec);
    if (created) std::filesystem::remove(dir, ec);
    throw;
  }
}

void run_export(const ExportOpts& o) {
  const auto t0 = std::chrono::steady_clock::now();
  check_out_dir(o.out);
  Checkpoint c = load_checkpoint(o.checkpoint);
  ExportRequest req;
  const std::string model = checkpoint_model(c, o.checkpoint, o.model);
  req.model = model;
  req.arch = arch_of(c, req.model, o.checkpoint);
  bool ema = false;
  // A training step continues from the raw weights and their optimizer state, as a resume does.
  req.weights = o.train_step ? c.tensors : eval_weights(c.tensors, !o.raw_weights, &ema);
  req.source = o.checkpoint;
  req.batch = o.batch ? o.batch : o.train_step ? recipe_batch(c, model, o.checkpoint) : 100;
  req.train_step = o.train_step;
  if (o.train_step) req.opt = checkpoint_optimizer(c, model, o.checkpoint, &req.sum_loss);
  req.aot.symbol_prefix = o.prefix;
  req.aot.embed_weights = o.embed;
  req.aot.threads = o.threads;
  req.compile = o.flags.options();
  req.compile.keep_asm = !o.asm_file.empty();
  const std::string what = o.train_step ? " training step (" + std::string(optimizer_name(req.opt.kind)) + ", batch " +
                                              std::to_string(req.batch) + ")"
                                        : "";
  const AotModule m = export_model(std::move(req));
  const std::string about = o.prefix + ": gradc model '" + model + "'" + what + " from " +
                            std::filesystem::path(o.checkpoint).filename().string() + (ema ? " (EMA weights)" : "");
  std::vector<std::pair<std::string, std::string>> files = {{o.out + "/model.o", m.object},
                                                            {o.out + "/model.h", aot_header(m, about)}};
  if (!o.embed) files.push_back({o.out + "/model_weights.bin", aot_weights_file(m)});
  if (!o.asm_file.empty()) files.push_back({o.asm_file, m.assembly});
  write_all(o.out, files);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("exported %s%s from %s (batch %lld, %zu kernels, %lld weights%s) for %s in %.2f s:\n", model.c_str(),
              what.c_str(), o.checkpoint.c_str(), static_cast<long long>(m.input_shape[0]), m.kernels,
              static_cast<long long>(m.weights.size()), o.embed ? " embedded" : "", m.target.describe().c_str(), s);
  for (const auto& [path, content] : files) std::printf("  %s  %zu bytes\n", path.c_str(), content.size());
  const bool arm = m.target.isa == Isa::Neon;
  std::printf("link: %s your.c %s/model.o -lm%s\n", arm ? "aarch64-linux-gnu-gcc" : "cc", o.out.c_str(),
              o.threads > 1 ? " -L$(llvm-config-19 --libdir) -lomp" : "");
}
}  // namespace

void add_export(CLI::App& app) {
  auto o = std::make_shared<ExportOpts>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Compile a trained model ahead of time into model.o + model.h for C programs (no LLVM needed to run)");
  cmd->add_option("--checkpoint", o->checkpoint, "A .safetensors checkpoint written by gradc train")->required();
  cmd->add_option("-o,--out", o->out, "Output directory (created if missing)")->required();
  cmd->add_option("--batch", o->batch,
                  "Examples per compiled batch; predict pads other counts (default 100; with --train-step the "
                  "checkpoint's training batch)")
      ->check(int_range(1, 65536));
  cmd->add_flag("--train-step", o->train_step,
                "Export one training step (forward, backward, the checkpoint's optimizer) instead of predict");
  cmd->add_flag("--embed-weights", o->embed, "Put the weights in model.o (no model_weights.bin to load)");
  cmd->add_option("--threads", o->threads, "Most threads the object may use (> 1 links libomp)")
      ->check(int_range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--prefix", o->prefix, "C symbol prefix of the interface")->capture_default_str();
  cmd->add_option("--model", o->model, "Model name (default: from the checkpoint's metadata)");
  cmd->add_flag("--raw-weights", o->raw_weights, "Export the raw weights, not their EMA copies");
  cmd->add_option("--dump-asm", o->asm_file, "Also write the object's assembly to this file");
  o->flags.add(cmd);
  cmd->callback([o] { run_export(*o); });
}

}  // namespace gradc::cli
