#include "tools/help_format.h"

#include <map>
#include <memory>

namespace gradc::cli {

namespace {
// The help groups, in the order they are printed.
const std::vector<std::string>& group_order() {
  static const std::vector<std::string> g = {"Data",        "Model",  "Optimizer", "Schedule and callbacks",
                                             "Checkpoints", "Output", "Compile",   "Other"};
  return g;
}

std::string group_of(const std::string& flag) {
  static const std::map<std::string, std::string> groups = [] {
    std::map<std::string, std::string> m;
    auto put = [&](const char* group, std::initializer_list<const char*> flags) {
      for (const char* f : flags) m[f] = group;
    };
    put("Data", {"--dataset", "--data", "--first-n", "--train-n", "--val-n", "--val-fraction", "--test-n", "--split",
                 "--limit", "--image", "--png"});
    put("Model", {"--model", "--preset", "--hidden", "--activation", "--dropout", "--filters", "--kernel", "--dense",
                  "--conv", "--pool", "--batch-norm", "--gate"});
    put("Optimizer", {"--optimizer", "--lr", "--momentum", "--clip", "--l2", "--ema", "--loss-reduction", "--batch",
                      "--steps", "--epochs", "--periods", "--seed"});
    put("Schedule and callbacks", {"--schedule", "--decay-rate", "--decay-steps", "--staircase", "--warmup",
                                   "--reduce-lr-on-plateau", "--early-stop", "--monitor", "--patience", "--keep-best"});
    put("Checkpoints", {"--checkpoint", "--checkpoint-dir", "--checkpoint-every", "--keep-last", "--resume", "--watch",
                        "--watch-timeout", "--allow-recipe-change", "--raw-weights"});
    put("Output", {"--report", "--weights-at", "--csv-log", "--quiet", "--json", "--plot", "--logits", "--confusion",
                   "-o", "--out", "--dump-asm", "--dump-ir", "--dump-after", "--dump-dir"});
    put("Compile", {"--target", "--no-fuse", "--passes", "--precision", "--no-cache", "--threads", "--engine",
                    "--check-numerics", "--embed-weights", "--prefix", "--train-step"});
    return m;
  }();
  auto it = groups.find(flag);
  return it == groups.end() ? "Other" : it->second;
}

class HelpFormatter : public CLI::Formatter {
 public:
  // The groups in group_order(), each listing its options as added.
  // CLI11's page with the option groups in group_order().
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
    return make_description(app) + make_usage(app, name) + make_positionals(app) + ordered_groups(app) +
           make_subcommands(app, mode) + "\n" + make_footer(app);
  }
  std::string ordered_groups(const CLI::App* app) const {
    std::string out;
    for (const std::string& group : group_order()) {
      std::vector<const CLI::Option*> opts =
          app->get_options([&](const CLI::Option* o) { return o->get_group() == group && o->nonpositional(); });
      if (!opts.empty()) out += make_group(group, false, opts);
    }
    return out;
  }
  // "--batch N (default 30)": a placeholder for a value, the default, nothing else.
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
    if (!opt->nonpositional()) return opt->get_required() ? " (required)" : "";
    if (opt->get_type_size() == 0 || opt->get_type_name().empty() || opt->get_expected_max() == 0) return "";
    const std::string type = opt->get_type_name();
    std::string s = type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0 ? " N"
                    : type.rfind("FLOAT", 0) == 0                           ? " X"
                                                                            : " VALUE";
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) s += ",...";
    if (opt->get_required()) s += " (required)";
    return s;
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string d = opt->get_description();
    if (!opt->get_default_str().empty() && d.find("default") == std::string::npos)
      d += " (default " + opt->get_default_str() + ")";
    return d;
  }
};
}  // namespace

void format_help(CLI::App& app) {
  app.name("gradc");
  auto fmt = std::make_shared<HelpFormatter>();
  fmt->column_width(34);
  app.formatter(fmt);
  std::vector<CLI::App*> apps = app.get_subcommands({});
  apps.push_back(&app);
  for (CLI::App* sub : apps) {
    sub->formatter(fmt);
    for (CLI::Option* o : sub->get_options()) {
      const std::string name = !o->get_lnames().empty()   ? "--" + o->get_lnames()[0]
                               : !o->get_snames().empty() ? "-" + o->get_snames()[0]
                                                          : "";
      if (o->nonpositional()) o->group(group_of(name));
    }
  }
}

}  // namespace gradc::cli
