#include "tools/flags.h"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "autodiff/dsl.h"
#include "autodiff/optim.h"
#include "runtime/spelling.h"
#include "tools/commands.h"

namespace gradc::cli {

namespace {
std::string short_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

CLI::Validator finite_float(double lo, double hi, Bound low) {
  const std::string range = std::string(low == Bound::Open ? "(" : "[") + short_num(lo) + ", " + short_num(hi) + "]";
  return CLI::Validator(
      [lo, hi, low, range](std::string& text) -> std::string {
        const char* b = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(b, &end);
        if (end == b || *end != '\0') return "'" + text + "' is not a number";
        if (!std::isfinite(v) || errno == ERANGE || std::fabs(v) > FLT_MAX)
          return "'" + text + "' is not a finite float";
        if (v < lo || v > hi || (low == Bound::Open && v == lo)) return "'" + text + "' is outside " + range;
        // As a float it would round to 0 or lose its precision (--lr 1e-50 trained with lr 0).
        if (v != 0 && std::fabs(v) < FLT_MIN) return "'" + text + "' is below the smallest normal float, 1.2e-38";
        return "";
      },
      "FLOAT in " + range);
}

CLI::Validator int_range(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        const char* b = text.c_str();
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(b, &end, 10);
        if (end == b || *end != '\0' || errno == ERANGE) return "'" + text + "' is not an integer";
        if (v < lo || v > hi) return "'" + text + "' is outside " + range;
        return "";
      },
      "INT in " + range);
}

CLI::Validator one_of(std::vector<std::string> names) {
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return CLI::Validator(
      [names, list](std::string& text) -> std::string {
        for (const std::string& n : names)
          if (n == text) return "";
        return "'" + text + "' is not one of " + list;
      },
      list);
}

CLI::Validator optimizer_kind() {
  std::vector<std::string> names;
  for (OptKind k : {OptKind::SGD, OptKind::Momentum, OptKind::Adagrad, OptKind::RMSprop, OptKind::Adam})
    names.emplace_back(optimizer_name(k));
  return one_of(names);
}

std::string optimizer_label(const std::string& optimizer, float clip) {
  if (clip <= 0.f) return optimizer;
  char buf[48];
  std::snprintf(buf, sizeof buf, ", clipped to global norm %g", static_cast<double>(clip));
  return optimizer + buf;
}

CLI::Validator unsigned64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        bool digits = !text.empty();
        for (char c : text) digits &= c >= '0' && c <= '9';
        if (!digits) return "'" + text + "' is not a non-negative decimal integer";
        errno = 0;
        std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE) return "'" + text + "' exceeds 18446744073709551615";
        return "";
      },
      "UINT64");
}

}  // namespace gradc::cli

namespace gradc::cli {

CLI::Option* add_model_positional(CLI::App* cmd, std::string& model, const std::string& help,
                                  const std::vector<std::string>& extra) {
  CLI::Validator known(
      [extra](std::string& name) {
        for (const std::string& w : extra)
          if (name.size() == w.size() && edit_distance(name, w) == 0) return name = w, std::string();
        try {
          name = canonical_model_name(name);
          return std::string();
        } catch (const std::invalid_argument& e) {
          const std::string what = e.what();
          return what.rfind("gradc: ", 0) == 0 ? what.substr(7) : what;
        }
      },
      "MODEL");
  return cmd->add_option("model", model, help)->transform(known);
}

std::string unknown_flag_message(CLI::App& app, const std::string& msg) {
  const std::vector<CLI::App*> subs = app.get_subcommands();
  if (subs.empty()) return "";
  CLI::App* sub = subs.back();
  std::vector<std::string> flags;
  for (const CLI::Option* o : sub->get_options())
    for (const std::string& l : o->get_lnames()) flags.push_back("--" + l);
  std::string out;
  std::istringstream words(msg.substr(msg.find(':') == std::string::npos ? 0 : msg.find(':') + 1));
  for (std::string w; words >> w;) {
    if (w.rfind("--", 0) != 0) continue;
    w = w.substr(0, w.find('='));
    const std::string near = nearest_word(w, flags);
    if (near.empty()) return "";
    if (near == w)  // the subcommand has it: it was given before the subcommand's name
      out += (out.empty() ? "" : "; ") + w + " goes after the subcommand: gradc " + sub->get_name() + " " + w + " ...";
    else
      out += (out.empty() ? "" : "; ") + std::string("unknown flag ") + w + "; did you mean " + near + "?";
  }
  return out.empty() ? ""
                     : "gradc " + sub->get_name() + ": " + out + " (gradc " + sub->get_name() + " --help lists them)";
}

void ArchFlags::add(CLI::App* cmd) {
  cmd->add_option("--hidden", hidden, "mlp: hidden layer widths, e.g. 256,128 (default 128)")
      ->delimiter(',')
      ->check(int_range(int64_t{1}, int64_t{1} << 20));
  std::vector<std::string> names;
  for (const ActivationInfo& a : activations()) names.emplace_back(a.name);
  std::string help;
  for (const std::string& n : names) help += (help.empty() ? "" : " | ") + n;
  cmd->add_option("--activation", activation, "mlp: " + help + " (default relu)")->check(one_of(names));
  cmd->add_option("--dropout", dropout, "mlp: dropout rate after each hidden layer (default 0)")
      ->check(finite_float(0, 0.95));
  cmd->add_option("--filters", filters, "cnn: convolution filters (default 28)")->check(int_range(1, 4096));
  cmd->add_option("--kernel", kernel, "cnn: convolution kernel size (default 3)")->check(int_range(1, 28));
  cmd->add_option("--dense", dense, "cnn: dense layer width (default 128)")->check(int_range(1, 1 << 20));
  cmd->add_option("--conv", conv, "convnet: each 3x3 convolution's filters, e.g. 32,64 (default)")
      ->delimiter(',')
      ->check(int_range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--pool", pool, "convnet: max | avg pooling after each convolution (default max)")
      ->check(one_of({"max", "avg"}));
  cmd->add_flag("--batch-norm", batch_norm, "convnet: batch_norm between each convolution and its ReLU");
}

Arch ArchFlags::resolve(const std::string& model) const {
  const ModelSpec& spec = find_model(model);
  const bool mlp_flags = !hidden.empty() || !activation.empty() || dropout;
  const bool cnn_flags = filters || kernel || dense;
  if (mlp_flags && spec.kind != ArchKind::Mlp)
    throw UsageError("gradc: --hidden, --activation and --dropout apply to the mlp model, not '" + model +
                     "' (a fixed tutorial preset)");
  if (cnn_flags && spec.kind != ArchKind::Cnn)
    throw UsageError("gradc: --filters, --kernel and --dense apply to the cnn model, not '" + model + "'");
  if ((!conv.empty() || !pool.empty() || batch_norm) && spec.kind != ArchKind::Convnet)
    throw UsageError("gradc: --conv, --pool and --batch-norm apply to the convnet model, not '" + model + "'");
  Arch a = spec.arch;
  if (!hidden.empty()) a.hidden = hidden;
  if (!activation.empty()) a.activation = activation;
  if (dropout) a.dropout = *dropout;
  if (filters) a.filters = *filters;
  if (kernel) a.kernel = *kernel;
  if (dense) a.dense = *dense;
  if (!conv.empty()) a.conv = conv;
  if (!pool.empty()) a.pool = pool;
  if (batch_norm) a.batch_norm = true;
  return a;
}

void add_ranks_flag(CLI::App* cmd, int& ranks) {
  cmd->add_option("--ranks", ranks,
                  "One rank's step of an N-rank data-parallel run (mpirun -np N): allreduce nodes and buckets")
      ->check(int_range(1, 65536));
}

int64_t local_batch(int64_t global, int ranks) {
  if (global % ranks != 0)
    throw UsageError("gradc: --batch " + std::to_string(global) + " is not divisible by --ranks " +
                     std::to_string(ranks));
  return global / ranks;
}

std::vector<int64_t> parse_int_list(const std::string& list, const std::string& flag, int64_t min, int64_t max) {
  std::vector<int64_t> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || v < min || v > max || errno == ERANGE)
      throw std::invalid_argument("gradc: " + flag + ": '" + item + "' is not " +
                                  (max < INT64_MAX
                                       ? "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]"
                                   : min == 1 ? std::string("a positive step")
                                              : "an integer >= " + std::to_string(min)));
    out.push_back(v);
  }
  return out;
}

}  // namespace gradc::cli
