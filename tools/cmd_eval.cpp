// gradc eval --checkpoint F | --watch DIR, and gradc predict --checkpoint F --image N.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "models/models.h"
#include "models/params.h"
#include "models/train.h"
#include "runtime/checkpoint.h"
#include "runtime/checksum.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/digit_image.h"
#include "tools/flags.h"
#include "tools/report_charts.h"

namespace gradc::cli {

std::string checkpoint_model(const Checkpoint& c, const std::string& path, const std::string& override_name) {
  if (!override_name.empty()) return canonical_model_name(override_name);
  auto it = c.metadata.find("model");
  if (it == c.metadata.end()) throw UsageError("gradc: " + path + " names no model in its metadata; pass --model");
  find_model(it->second);
  return it->second;
}

namespace {
Dataset load_eval_data(const std::string& dataset, const std::string& data, const std::string& split, int64_t limit) {
  Dataset d = load_named(dataset, data, split);
  return limit > 0 ? slice(d, 0, std::min(limit, d.n)) : d;
}

struct EvalOptions {
  std::string model, dataset, split;
  bool raw_weights = false, confusion = false, json = false;
  std::string logits;  // --logits FILE: the raw f32 logits [examples, columns]
};

nlohmann::json confusion_json(const Metrics& m) {
  nlohmann::json rows = nlohmann::json::array();
  for (int i = 0; i < m.classes; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int j = 0; j < m.classes; ++j) row.push_back(m.confusion[static_cast<size_t>(i * m.classes + j)]);
    rows.push_back(row);
  }
  return rows;
}

std::string step_of(const Checkpoint& c) {
  auto it = c.metadata.find("step");
  return it == c.metadata.end() ? "" : it->second;
}

// Evaluates one checkpoint with the weights the trainer evaluates with (each parameter's EMA copy
// when the checkpoint holds one, unless raw): one line, the confusion matrix on request.
void eval_one(const Checkpoint& c, const std::string& path, const Dataset& d, const EvalOptions& o) {
  const std::string m = checkpoint_model(c, path, o.model);
  bool ema = false;
  const std::vector<NamedTensor> w = eval_weights(c.tensors, !o.raw_weights, &ema);
  std::vector<float> logits;
  Metrics met = evaluate(m, arch_of(c, m, path), w, d, EngineKind::Jit, 0, path, o.logits.empty() ? nullptr : &logits);
  if (!o.logits.empty())
    write_file(o.logits, std::string_view(reinterpret_cast<const char*>(logits.data()), logits.size() * 4));
  const std::string step = step_of(c).empty() ? "?" : step_of(c);
  if (o.json) {  // one JSON object per line (JSON Lines under --watch)
    nlohmann::json j = {{"checkpoint", path},         {"model", m},
                        {"step", step_of(c)},         {"ema", ema},
                        {"dataset", o.dataset},       {"split", o.split},
                        {"examples", met.count},      {"accuracy", met.accuracy()},
                        {"log_loss", met.log_loss()}, {"confusion", confusion_json(met)}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    return;
  }
  std::printf("%s (%s, step %s%s) on %s %s (%lld examples): accuracy %.4f  log-loss %.4f\n", path.c_str(), m.c_str(),
              step.c_str(), ema ? ", EMA weights" : "", o.dataset.c_str(), o.split.c_str(),
              static_cast<long long>(met.count), met.accuracy(), met.log_loss());
  if (o.confusion) std::printf("confusion matrix:\n%s", met.confusion_text().c_str());
}

// FNV-1a of the weights a checkpoint is evaluated with: last, ckpt-N (weights + optimizer state)
// and final (weights alone) written at one step evaluate the same weights.
uint64_t weights_hash(const Checkpoint& c, bool raw) {
  Fnv1a sum;
  for (const NamedTensor& t : eval_weights(c.tensors, !raw, nullptr)) {
    sum.add(t.name);
    sum.add(t.data);
  }
  return sum.value();
}

// Watches a checkpoint directory that a training run writes and prunes (--keep-last) at the same
// time: any file may vanish between the listing and its load, which is skipped, not an error.
class Watcher {
 public:
  Watcher(std::string dir, const Dataset& d, const EvalOptions& o) : dir_(std::move(dir)), d_(d), o_(o) {}

  // One poll: the new or rewritten .safetensors files, evaluated in step order, each (step,
  // weights) once. True when any file was new.
  bool poll() {
    std::vector<Found> found;
    for (const std::string& path : changed_files()) {
      try {
        Checkpoint c = load_checkpoint(path);
        const int64_t step = numeric_step(c);
        found.push_back({step, path, std::move(c)});
      } catch (const std::exception& err) {
        if (file_kind(path) != "missing") skip(path, err);  // a missing one was pruned since the listing
      }
    }
    std::sort(found.begin(), found.end(),
              [](const Found& a, const Found& b) { return std::pair(a.step, a.path) < std::pair(b.step, b.path); });
    for (const Found& f : found) evaluate(f);
    std::fflush(stdout);
    return !found.empty();
  }

 private:
  struct Found {
    int64_t step;  // for the order; -1 when the metadata has none
    std::string path;
    Checkpoint c;
  };
  static int64_t numeric_step(const Checkpoint& c) {
    const std::string s = step_of(c);
    return s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18 ? -1 : std::stoll(s);
  }

  // Paths whose modification time is new since the last poll; entries that vanish are passed over.
  std::vector<std::string> changed_files() {
    std::vector<std::string> out;
    std::error_code ec;
    auto it = std::filesystem::directory_iterator(dir_, ec);
    if (ec)  // removed, renamed or made unreadable while watched: nothing will ever arrive
      throw DataError("gradc: --watch " + dir_ + ": " +
                      (file_kind(dir_) == "missing" ? std::string("the directory was removed while watching")
                                                    : "cannot list the directory: " + ec.message()));
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (it->path().extension() != ".safetensors") continue;  // skips *.tmp files being written
      std::error_code tec;
      const auto t = std::filesystem::last_write_time(it->path(), tec);
      if (tec) continue;
      const std::string path = it->path().string();
      if (auto s = seen_.find(path); s != seen_.end() && s->second == t) continue;
      seen_[path] = t;
      out.push_back(path);
    }
    return out;
  }

  void evaluate(const Found& f) {
    try {
      const auto key = std::make_pair(step_of(f.c), weights_hash(f.c, o_.raw_weights));
      if (!evaluated_.insert(key).second) return;  // the same weights at the same step under another name
      eval_one(f.c, f.path, d_, o_);
    } catch (const std::exception& err) {  // no or unknown model, weights of another shape
      skip(f.path, err);
    }
  }

  // A bad entry (a FIFO, a directory, a corrupt file, no model) is said and passed over.
  static void skip(const std::string& path, const std::exception& err) {
    std::string why = err.what();
    if (why.rfind("gradc: ", 0) == 0) why.erase(0, 7);
    std::fprintf(stderr, "gradc: skipping %s: %s\n", path.c_str(), why.c_str());
  }

  std::string dir_;
  const Dataset& d_;
  const EvalOptions& o_;
  std::map<std::string, std::filesystem::file_time_type> seen_;
  std::set<std::pair<std::string, uint64_t>> evaluated_;
};

// Evaluates each checkpoint of `dir` when it appears, until no new one came for `timeout` seconds
// (0: forever).
void watch(const std::string& dir, double timeout, const Dataset& d, const EvalOptions& eo) {
  std::printf("watching %s for checkpoints%s\n", dir.c_str(), timeout > 0 ? "" : " (Ctrl-C to stop)");
  Watcher w(dir, d, eo);
  auto last_new = std::chrono::steady_clock::now();
  for (;;) {
    if (w.poll()) last_new = std::chrono::steady_clock::now();
    if (timeout > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - last_new).count() > timeout)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}
}  // namespace

void add_eval(CLI::App& app) {
  struct Opts {
    std::string checkpoint, watch, model, dataset = "mnist", data, split = "test";
    int64_t limit = 0;
    double watch_timeout = 0;
    bool raw_weights = false, confusion = false, json = false;
    std::string logits;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint (accuracy, log-loss, confusion matrix)");
  auto* ck = cmd->add_option("--checkpoint", o->checkpoint, "A .safetensors checkpoint written by gradc train");
  auto* w = cmd->add_option("--watch", o->watch, "Evaluate every new checkpoint that appears in DIR (Ctrl-C to stop)");
  ck->excludes(w);
  cmd->add_option("--model", o->model, "Model name (default: from the checkpoint's metadata)");
  cmd->add_option("--dataset", o->dataset, "mnist | fashion-mnist | csv:TRAIN.csv[,TEST.csv]")->capture_default_str();
  cmd->add_option("--data", o->data, "Data directory (default $GRADC_DATA or ./data)");
  cmd->add_option("--split", o->split, "test | train")->check(one_of({"test", "train"}))->capture_default_str();
  cmd->add_option("--limit", o->limit, "Only the first N examples")->check(int_range(1, 1000000000));
  cmd->add_flag("--raw-weights", o->raw_weights,
                "Evaluate the raw weights even when the checkpoint holds their EMA (the default, as the trainer)");
  cmd->add_flag("--confusion", o->confusion, "Also print the confusion matrix");
  cmd->add_flag("--json", o->json,
                "Print each evaluation as one JSON object (checkpoint, model, step, accuracy, log_loss, confusion)");
  cmd->add_option("--logits", o->logits,
                  "--checkpoint: also write the logits as raw little-endian f32 [examples, classes]")
      ->excludes(w);
  cmd->add_option("--watch-timeout", o->watch_timeout, "--watch: stop after this many seconds without a new checkpoint")
      ->check(finite_float(0, 1e9));
  cmd->callback([o] {
    if (o->checkpoint.empty() && o->watch.empty()) throw CLI::RequiredError("--checkpoint or --watch");
    const EvalOptions eo{o->model, o->dataset, o->split, o->raw_weights, o->confusion, o->json, o->logits};
    if (!o->logits.empty()) check_output_file(o->logits, "--logits");
    if (!o->checkpoint.empty()) {
      eval_one(load_checkpoint(o->checkpoint), o->checkpoint, load_eval_data(o->dataset, o->data, o->split, o->limit),
               eo);
      return;
    }
    if (!std::filesystem::is_directory(o->watch)) throw UsageError("gradc: --watch " + o->watch + ": not a directory");
    // The data is loaded once, before watching: its errors end the command.
    watch(o->watch, o->watch_timeout, load_eval_data(o->dataset, o->data, o->split, o->limit), eo);
  });
}

namespace {
// The top 3 classes and a bar per class.
void print_probs(const std::vector<double>& probs) {
  std::vector<size_t> order(probs.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  std::printf("top 3:");
  for (size_t i = 0; i < std::min<size_t>(3, order.size()); ++i)
    std::printf("  %zu (p = %.4f)", order[i], probs[order[i]]);
  std::printf("\n");
  for (size_t k = 0; k < probs.size(); ++k)
    std::printf("  %zu %6.4f %s\n", k, probs[k], std::string(static_cast<size_t>(probs[k] * 50 + 0.5), '#').c_str());
}
}  // namespace

void add_predict(CLI::App& app) {
  struct Opts {
    std::string checkpoint, model, dataset = "mnist", data, split = "test", plot, png;
    std::optional<int64_t> image;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("predict", "Class probabilities of one image: from the dataset or your own PNG");
  cmd->add_option("--checkpoint", o->checkpoint, "A .safetensors checkpoint")->required();
  auto* im = cmd->add_option("--image", o->image, "Index of the image in the split")->check(int_range(0, 1000000000));
  auto* pn = cmd->add_option("--png", o->png,
                             "Your own digit: any PNG (size, gray/RGB, light or dark background), preprocessed as "
                             "MNIST was (20×20 box, centred by mass in 28×28)");
  im->excludes(pn);
  cmd->add_option("--model", o->model, "Model name (default: from the checkpoint's metadata)");
  cmd->add_option("--dataset", o->dataset, "mnist | fashion-mnist | csv:TRAIN.csv[,TEST.csv]")->capture_default_str();
  cmd->add_option("--data", o->data, "Data directory (default $GRADC_DATA or ./data)");
  cmd->add_option("--split", o->split, "test | train")->check(one_of({"test", "train"}))->capture_default_str();
  cmd->add_option("--plot", o->plot, "Write a PNG of the 28×28 input and its probability bars");
  cmd->add_flag("--json", o->json, "Print the prediction as one JSON object (predicted, label, probabilities)");
  cmd->callback([o] {
    if (!o->plot.empty()) check_output_file(o->plot, "--plot");
    if (!o->image && o->png.empty()) throw CLI::RequiredError("--image or --png");
    Checkpoint c = load_checkpoint(o->checkpoint);
    const std::string m = checkpoint_model(c, o->checkpoint, o->model);
    const std::vector<NamedTensor> w = eval_weights(c.tensors, true);
    Dataset one;
    int label = -1;
    if (!o->png.empty()) {
      one.n = 1, one.source = o->png, one.item_dims = {28, 28};
      one.x = mnist_digit(read_gray_png(o->png), o->png);
      one.y = {0};  // unknown: not shown
    } else {
      Dataset d = load_named(o->dataset, o->data, o->split);
      if (*o->image >= d.n)
        throw UsageError("gradc: --image " + std::to_string(*o->image) + " outside the " + std::to_string(d.n) +
                         " images");
      one = slice(d, *o->image, 1);
      label = one.y[0];
    }
    const auto probs = predict_probs(m, arch_of(c, m, o->checkpoint), w, one, o->checkpoint);
    for (double p : probs)  // NaN or Inf weights give NaN probabilities: no class can be named
      if (!std::isfinite(p))
        throw UsageError("gradc: " + o->checkpoint + ": the model's output for this image is not finite (" +
                         std::to_string(p) + "): the checkpoint's weights hold NaN or Inf");
    const auto best = static_cast<size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    if (!o->plot.empty())
      plot_prediction(o->plot, one.x.data(), label, probs,
                      input_gradient(m, arch_of(c, m, o->checkpoint), w, one, static_cast<int>(best), o->checkpoint));
    if (o->json) {
      nlohmann::json j = {{"checkpoint", o->checkpoint}, {"model", m}, {"predicted", best}, {"probabilities", probs}};
      if (label >= 0) j["image"] = *o->image, j["label"] = label, j["dataset"] = o->dataset, j["split"] = o->split;
      if (!o->png.empty()) j["png"] = o->png;
      if (!o->plot.empty()) j["plot"] = o->plot;
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    if (label >= 0)
      std::printf("image %lld of %s %s: label %d, predicted %zu (p = %.4f)\n", static_cast<long long>(*o->image),
                  o->dataset.c_str(), o->split.c_str(), label, best, probs[best]);
    else
      std::printf("%s (preprocessed to 28×28 as MNIST): predicted %zu (p = %.4f)\n", o->png.c_str(), best, probs[best]);
    print_probs(probs);
    if (!o->plot.empty()) std::printf("wrote %s\n", o->plot.c_str());
  });
}

}  // namespace gradc::cli
