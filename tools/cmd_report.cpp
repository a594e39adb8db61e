// gradc report DIR: a run's report rebuilt from its folder — metrics.csv (and steps.csv) as training
// left them, the weights and recipe of its checkpoint, the test set evaluated again — for a run
// killed before it wrote its report, or a report to redraw.

#include "models/metadata.h"
#include "models/models.h"
#include "models/params.h"
#include "models/summary.h"
#include "models/train.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/report.h"

namespace gradc::cli {

namespace {
// metrics.csv's rows as the shape of the run: steps per epoch (epoch runs), the last step, and
// whether any row has a validation loss. A header or row that is not the CSVLogger's is an error.
Report::RunShape read_shape(const std::string& csv, bool by_epochs) {
  const MetricsCsv m = read_metrics_csv(csv);
  Report::RunShape s;
  s.by_epochs = by_epochs;
  for (size_t row = 0; row < m.rows.size(); ++row) {
    const std::vector<std::string>& f = m.rows[row];
    char* end = nullptr;
    const long long step = f.size() >= 7 ? std::strtoll(f[0].c_str(), &end, 10) : -1;
    if (step < 0 || *end != 0)
      throw UsageError("gradc: " + csv + ": row " + std::to_string(row + 2) + " is not a metrics row");
    const long long epoch = std::strtoll(f[1].c_str(), nullptr, 10);
    if (row == 0 && by_epochs && epoch > 0) s.steps_per_epoch = step / epoch;
    s.total_steps = step;
    s.has_val |= !f[5].empty();
  }
  if (m.rows.empty()) throw UsageError("gradc: " + csv + " has no evaluation points yet");
  return s;
}

std::string meta(const Checkpoint& c, const std::string& key, const std::string& fallback = "") {
  auto it = c.metadata.find(key);
  return it == c.metadata.end() ? fallback : it->second;
}

// DIR/final.safetensors, else DIR/last.safetensors (a report written into the checkpoint folder).
std::string default_checkpoint(const std::string& dir) {
  for (const char* f : {"final.safetensors", "last.safetensors"})
    if (file_kind(dir + "/" + f) == "a regular file") return dir + "/" + f;
  throw UsageError("gradc: " + dir +
                   " holds no final.safetensors or last.safetensors; name the run's checkpoint "
                   "with --checkpoint");
}

void run_report(const std::string& dir, std::string ckpt, const std::string& data) {
  if (ckpt.empty()) ckpt = default_checkpoint(dir);
  const Checkpoint c = load_checkpoint(ckpt);
  const std::string model = checkpoint_model(c, ckpt, "");
  const Arch arch = arch_of(c, model, ckpt);
  const Report::RunShape shape = read_shape(dir + "/metrics.csv", meta(c, "recipe.periods") == "epochs");
  const std::vector<NamedTensor> w = eval_weights(c.tensors, true);
  const std::string dataset = meta(c, "recipe.dataset", "mnist");
  std::printf("evaluating %s on the %s test set ...\n", ckpt.c_str(), dataset.c_str());
  std::fflush(stdout);
  ReportResult r;
  const Dataset test = load_named(dataset, data, "test");
  r.test = evaluate(model, arch, w, test, EngineKind::Jit, 0, ckpt, &r.test_logits);
  r.test_set = &test;
  r.one_vs_all = model == "ova";
  r.final_params = w;
  r.fit.steps = metadata_int(c.metadata, "step", int64_t{1} << 53, ckpt);
  if (c.metadata.count("kept_step"))  // final.safetensors of a keep-best run
    r.kept_step = metadata_int(c.metadata, "kept_step", int64_t{1} << 53, ckpt);
  RunInfo info;
  info.title = "gradc train " + model;
  info.command = "(rebuilt by gradc report from " + dir + "/metrics.csv and " + ckpt + ")";
  for (const auto& [k, v] : c.metadata)
    if (k.rfind("recipe.", 0) == 0) info.hyperparameters.emplace_back(k.substr(7), v);
  info.layers = summary(build_model(model, {.batch = 1, .training = false}, arch)->g);
  Report rep(dir, info);
  rep.rebuild(shape, r);
  std::printf("%s: test accuracy %.4f with the weights of step %lld%s\nreport: %s/index.html\n", model.c_str(),
              r.test.accuracy(), static_cast<long long>(r.kept_step ? r.kept_step : r.fit.steps),
              r.kept_step ? " (kept by keep-best)" : "", dir.c_str());
}
}  // namespace

void add_report(CLI::App& app) {
  struct Opts {
    std::string dir, checkpoint, data;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Rebuild a run's report from its folder (metrics.csv) and checkpoint, e.g. after a killed run");
  cmd->add_option("dir", o->dir, "The run's --report directory (holding metrics.csv)")->required();
  cmd->add_option("--checkpoint", o->checkpoint,
                  "The run's checkpoint (default: DIR/final.safetensors, else DIR/last.safetensors)");
  cmd->add_option("--data", o->data, "Data directory (default $GRADC_DATA or ./data)");
  cmd->callback([o] { run_report(o->dir, o->checkpoint, o->data); });
}

}  // namespace gradc::cli
