// gradc compare RUN_DIR... -o DIR: several runs' reports on one static page — their validation
// (or training) curves overlaid against the step, the hyperparameters that differ, each run's
// final figures. Reads what `gradc train --report` (or `gradc report`) wrote: run.json and
// metrics.csv.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "models/metadata.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/gnuplot.h"
#include "tools/report.h"

namespace gradc::cli {

namespace {
struct Run {
  std::string dir, name;
  nlohmann::json info;
  std::string metrics;  // metrics.csv
  bool has_val = false;
};

Run load_run(const std::string& dir) {
  Run r;
  r.dir = dir;
  r.name = std::filesystem::path(dir).lexically_normal().filename().string();
  if (r.name.empty() || r.name == ".") r.name = dir;
  if (file_kind(dir + "/run.json") != "a regular file")
    throw UsageError("gradc: " + dir +
                     " is not a finished gradc report folder (no run.json; gradc train --report "
                     "writes one, gradc report DIR rebuilds it)");
  try {
    r.info = nlohmann::json::parse(read_regular(dir + "/run.json", size_t{1} << 20));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("gradc: " + dir + "/run.json: " + e.what());
  }
  const MetricsCsv m = read_metrics_csv(dir + "/metrics.csv");
  r.metrics = m.text;
  for (const std::vector<std::string>& f : m.rows) r.has_val |= f.size() > 5 && !f[5].empty();
  return r;
}

std::string value(const nlohmann::json& j, const char* key, const char* fmt) {
  if (!j.contains(key) || !j[key].is_number()) return "";
  return format(fmt, j[key].get<double>());
}

// loss.png / accuracy.png: one line per run, validation where every run has it, else training.
void plot(const std::string& out, const std::vector<Run>& runs) {
  bool val = true;
  for (const Run& r : runs) val &= r.has_val;
  const std::string what = val ? "validation" : "training";
  std::vector<PlotData> data;
  std::ostringstream loss, acc;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string file = "run" + std::to_string(i) + ".csv";
    data.push_back({file, runs[i].metrics});
    const std::string title = runs[i].name;  // gnuplot titles: quotes removed below
    std::string safe;
    for (char c : title) safe += c == '\'' || c == '\\' ? '_' : c;
    loss << (i ? ", " : "plot ") << "'" << file << "' using 1:" << (val ? 6 : 4)
         << " with linespoints lw 2 pt 7 ps 0.6 title '" << safe << "'";
    acc << (i ? ", " : "plot ") << "'" << file << "' using 1:" << (val ? 7 : 5)
        << " with linespoints lw 2 pt 7 ps 0.6 title '" << safe << "'";
  }
  std::ostringstream s;
  s << "set terminal pngcairo size 900,560 font 'Sans,10'\nset key below horizontal\nset grid\nset termoption "
       "noenhanced\nset xlabel 'training step'\n"
    << "set output 'loss.png'\nset title '" << what << " log-loss'\nset ylabel 'log-loss'\n"
    << loss.str() << "\n"
    << "set output 'accuracy.png'\nset title '" << what << " accuracy'\nset ylabel 'accuracy'\n"
    << acc.str() << "\n";
  run_gnuplot(out, s.str(), data);
}

std::string table_html(const std::vector<Run>& runs) {
  std::ostringstream t;
  t << "<table>\n<tr><th></th>";
  for (const Run& r : runs) t << "<th>" << html_escape(r.name) << "</th>";
  t << "</tr>\n";
  auto row = [&](const std::string& k, const std::vector<std::string>& v) {
    t << "<tr><th scope=\"row\">" << html_escape(k) << "</th>";
    for (const std::string& x : v) t << "<td>" << html_escape(x) << "</td>";
    t << "</tr>\n";
  };
  std::vector<std::string> models, acc, loss, val, steps;
  for (const Run& r : runs) {
    models.push_back(r.info.contains("title") && r.info["title"].is_string() ? r.info["title"].get<std::string>() : "");
    acc.push_back(value(r.info, "test_accuracy", "%.4f"));
    loss.push_back(value(r.info, "test_log_loss", "%.4f"));
    val.push_back(value(r.info, "val_accuracy", "%.4f"));
    steps.push_back(value(r.info, "steps", "%.0f"));
  }
  row("run", models);
  row("test accuracy", acc);
  row("test log-loss", loss);
  row("validation accuracy", val);
  row("steps", steps);
  // The hyperparameters that differ between the runs (all of them when only some runs have one).
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const Run& r : runs) {
    if (!r.info.contains("hyperparameters") || !r.info["hyperparameters"].is_object()) continue;
    for (auto it = r.info["hyperparameters"].begin(); it != r.info["hyperparameters"].end(); ++it)
      if (seen.insert(it.key()).second) keys.push_back(it.key());
  }
  int differing = 0;
  for (const std::string& k : keys) {
    std::vector<std::string> v;
    for (const Run& r : runs) {
      const bool has = r.info.contains("hyperparameters") && r.info["hyperparameters"].is_object() &&
                       r.info["hyperparameters"].contains(k) && r.info["hyperparameters"][k].is_string();
      v.push_back(has ? r.info["hyperparameters"][k].get<std::string>() : "—");
    }
    if (std::set<std::string>(v.begin(), v.end()).size() < 2) continue;
    row(k, v);
    ++differing;
  }
  if (differing == 0) row("hyperparameters", std::vector<std::string>(runs.size(), "the same in every run"));
  return t.str() + "</table>\n";
}
}  // namespace

void add_compare(CLI::App& app) {
  struct Opts {
    std::vector<std::string> runs;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      app.add_subcommand("compare", "One page overlaying the curves of several runs' reports, with what differs");
  cmd->add_option("runs", o->runs, "Report folders of finished runs (gradc train --report DIR)")->required();
  cmd->add_option("-o,--out", o->out, "Output directory for index.html and the charts")->required();
  cmd->callback([o] {
    if (o->runs.size() < 2) throw UsageError("gradc: compare needs at least two report folders");
    std::vector<Run> runs;
    for (const std::string& d : o->runs) runs.push_back(load_run(d));
    make_dirs(o->out, "-o");
    plot(o->out, runs);
    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>gradc compare</title>\n"
         << "<style>body{font-family:system-ui,sans-serif;margin:0 auto;padding:1.5em;max-width:1400px}"
            "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 10px;text-align:left}"
            "th{background:#f4f4f4}img{width:100%;height:auto}.grid{display:grid;grid-template-columns:repeat("
            "auto-fit,minmax(min(440px,100%),1fr));gap:1.2em}</style>\n</head>\n<body>\n<h1>"
         << runs.size() << " runs compared</h1>\n"
         << table_html(runs) << "<div class=\"grid\">\n<img src=\"loss.png\" alt=\"log-loss of every run\">"
         << "<img src=\"accuracy.png\" alt=\"accuracy of every run\">\n</div>\n<p>Each run's own report: ";
    for (const Run& r : runs)
      html << "<a href=\""
           << html_escape(std::filesystem::relative(std::filesystem::absolute(r.dir) / "index.html",
                                                    std::filesystem::absolute(o->out))
                              .string())
           << "\">" << html_escape(r.name) << "</a> ";
    html << "</p>\n</body>\n</html>\n";
    write_file(o->out + "/index.html", html.str());
    std::printf("compared %zu runs: %s/index.html\n", runs.size(), o->out.c_str());
  });
}

}  // namespace gradc::cli
