// index.html of the training report: offline, no scripts, valid HTML5 with every text escaped.
#include <sstream>

#include "compiler/target.h"
#include "models/metadata.h"
#include "runtime/files.h"
#include "tools/report.h"
#include "tools/version.h"

namespace gradc::cli {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {
std::string esc(const std::string& s) { return html_escape(s); }

std::string duration(double s) {
  if (s < 60) return format("%.1f s", s);
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t < 3600) return std::to_string(t / 60) + " min " + format("%02.0f", static_cast<double>(t % 60)) + " s";
  return std::to_string(t / 3600) + " h " + format("%02.0f", static_cast<double>(t / 60 % 60)) + " min";
}

struct Table {
  std::ostringstream html;
  void row(const std::string& k, const std::string& v) {
    html << "<tr><th scope=\"row\">" << esc(k) << "</th><td>" << esc(v) << "</td></tr>\n";
  }
  std::string str() const { return "<table>\n" + html.str() + "</table>\n"; }
};

// Per class of the test set: examples, precision, recall and F1 from the confusion matrix (rows =
// true labels), the worst recall marked.
std::string per_class_table(const Metrics& m) {
  const size_t c = static_cast<size_t>(m.classes);
  std::vector<double> rows(c, 0), cols(c, 0), tp(c, 0);
  for (size_t k = 0; k < c; ++k)
    for (size_t j = 0; j < c; ++j) {
      const auto v = static_cast<double>(m.confusion[k * c + j]);
      rows[k] += v;
      cols[j] += v;
      if (j == k) tp[k] = v;
    }
  auto recall = [&](size_t k) { return rows[k] > 0 ? tp[k] / rows[k] : 0.0; };
  size_t worst = 0;
  for (size_t k = 1; k < c; ++k)
    if (recall(k) < recall(worst)) worst = k;
  std::ostringstream t;
  t << "<div class=\"scroll\"><table "
       "class=\"num\">\n<tr><th>class</th><th>examples</th><th>precision</th><th>recall</th><th>F1</th></tr>\n";
  for (size_t k = 0; k < c; ++k) {
    const double p = cols[k] > 0 ? tp[k] / cols[k] : 0, r = recall(k);
    t << "<tr" << (k == worst ? " class=\"worst\"" : "") << "><td>" << k << "</td><td>" << format("%.0f", rows[k])
      << "</td><td>" << format("%.4f", p) << "</td><td>" << format("%.4f", r) << "</td><td>"
      << format("%.4f", p + r > 0 ? 2 * p * r / (p + r) : 0) << "</td></tr>\n";
  }
  return t.str() + "</table></div>\n";
}

// The kernels of the training step, slowest first (the 12 slowest and the rest summed), beside the
// step's graph with the same kernel numbers.
std::string step_time_html(const StepTime& st) {
  if (st.kernels.empty()) return "";
  std::ostringstream t;
  t << "<h2>Where the step time goes</h2>\n<p class=\"sub\">The training step's kernels, each timed alone on "
    << st.threads << (st.threads == 1 ? " thread" : " threads") << " (median of 15; their sum "
    << format("%.1f", st.total_us) << " µs, without fork/join and barriers); % of the measured FMA peak, "
    << format("%.1f", st.peak_gflops)
    << " GFLOP/s. Kernels of several nodes are the graph's dashed clusters, labelled with these numbers.</p>\n"
    << "<div class=\"cols\"><section class=\"scroll\"><table "
       "class=\"num\">\n<tr><th>kernel</th><th>computes</th><th>µs</th><th>share</th>"
       "<th>GFLOP/s</th><th>% peak</th></tr>\n";
  double rest = 0;
  size_t shown = 0;
  for (const KernelTime& k : st.kernels) {
    if (shown++ >= 12) {
      rest += k.us;
      continue;
    }
    t << "<tr><td>" << k.index << "</td><td style=\"text-align:left\">" << esc(k.ops) << "</td><td>"
      << format("%.1f", k.us) << "</td><td>" << format("%.0f%%", 100 * k.us / st.total_us) << "</td><td>"
      << (k.gflops > 0.05 ? format("%.1f", k.gflops) : "") << "</td><td>"
      << (k.gflops > 0.05 ? format("%.0f%%", k.peak_pct) : "") << "</td></tr>\n";
  }
  if (rest > 0)
    t << "<tr><td></td><td style=\"text-align:left\">" << st.kernels.size() - 12 << " more</td><td>"
      << format("%.1f", rest) << "</td><td>" << format("%.0f%%", 100 * rest / st.total_us)
      << "</td><td></td><td></td></tr>\n";
  t << "</table></section>\n<section><a href=\"" << esc(st.picture) << "\"><img src=\"" << esc(st.picture)
    << "\" alt=\"the training step's graph with its fused kernels\" style=\"width:100%\"></a></section></div>\n";
  return t.str();
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1.5em;max-width:1400px;color:#222}"
    "h1{margin-bottom:.2em}.sub{color:#555;margin-top:0}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:3px 10px;text-align:left;"
    "vertical-align:top;overflow-wrap:anywhere}th{background:#f4f4f4;font-weight:600;white-space:nowrap}"
    ".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(330px,100%),1fr));gap:1.2em;align-items:start}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(440px,100%),1fr));gap:1.2em}"
    "figure{margin:0;border:1px solid #ddd;padding:.5em;background:#fff}figure img{width:100%;height:auto;"
    "display:block}figcaption{font-size:.9em;color:#444;margin-top:.4em}"
    ".scroll{overflow-x:auto;max-width:100%}table.num td{text-align:right}tr.worst td{background:#fdecea}"
    "pre{background:#f7f7f7;padding:.7em;overflow-x:auto;font-size:.85em}code{word-break:break-all}";
}  // namespace

void Report::write_html(const ReportResult& r) const {
  Table run, result, hyper;
  run.row("command", info_.command);
  run.row("started", info_.started);
  if (r.command_seconds > 0)
    run.row("wall time", duration(r.command_seconds) + " until this page: data " + format("%.1f", r.load_seconds) +
                             " s, compile " + format("%.1f", r.fit.compile_ms / 1e3) + " s, training " +
                             format("%.1f", r.fit.seconds) + " s, evaluation " + format("%.1f", r.eval_seconds) +
                             " s, charts " + format("%.1f", charts_seconds_) + " s");
  run.row("training", duration(r.fit.seconds) + " (" + format("%.0f", r.fit.steps_per_s) + " steps/s, compile " +
                          format("%.0f", r.fit.compile_ms) + " ms)");
  run.row("gradc", version_text());
  const std::string cpu = cpu_model_name();
  run.row("host", (cpu.empty() ? std::string() : cpu + "; ") + default_target().describe());
  const bool live = live_total_ > 0;  // training still runs: no test figures yet
  if (live) result.row("progress", "step " + grouped(live_step_) + " of " + grouped(live_total_) + ", training");
  if (!live) {
    result.row("test accuracy", format("%.4f", r.test.accuracy()));
    result.row("test log-loss", format("%.4f", r.test.log_loss()));
  }
  if (r.val.count > 0) {
    result.row("validation accuracy", format("%.4f", r.val.accuracy()));
    result.row("validation log-loss", format("%.4f", r.val.log_loss()));
  }
  result.row("steps trained", grouped(r.fit.steps));
  if (!r.fit.stopped_early.empty()) result.row(r.fit.interrupted ? "stopped" : "stopped early", r.fit.stopped_early);
  if (!live)
    result.row("test figures use",
               r.kept_step > 0 ? "the weights of step " + grouped(r.kept_step) + " (keep-best)" : "the last weights");
  if (!live) result.row("test images", grouped(r.test.count));
  for (const auto& [k, v] : info_.hyperparameters) hyper.row(k, v);
  Table compared;
  compared.row("this run: test accuracy", format("%.4f", r.test.accuracy()));
  for (const Baseline& b : r.baselines) compared.row(b.what + ": test accuracy", format("%.4f", b.test.accuracy()));

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << (live ? "<meta http-equiv=\"refresh\" content=\"15\">\n" : "") << "<title>gradc report: " << esc(info_.title)
       << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
       << "<h1>" << esc(info_.title) << "</h1>\n<p class=\"sub\">" << esc(info_.started) << " · "
       << (live ? "in progress: step " + grouped(live_step_) + " of " + grouped(live_total_) +
                      " (this page reloads itself; the test figures come at the end)"
                : "test accuracy " + format("%.4f", r.test.accuracy()))
       << " · " << duration(r.fit.seconds) << "</p>\n"
       << "<div class=\"cols\">\n<section><h2>Run</h2>\n"
       << run.str() << "</section>\n<section><h2>Result</h2>\n"
       << result.str() << "<p><a href=\"metrics.csv\">metrics.csv</a> · <a href=\"confusion.csv\">confusion.csv</a>"
       << "</p>\n</section>\n<section><h2>Hyperparameters</h2>\n"
       << hyper.str() << "</section>\n</div>\n"
       << (r.baselines.empty() ? std::string() : "<h2>Compared with</h2>\n" + compared.str()) << "<h2>Model</h2>\n<pre>"
       << esc(info_.layers) << "</pre>\n"
       << (!live && r.test.count > 0 ? "<h2>Per class (test set)</h2>\n" + per_class_table(r.test) +
                                           "<p class=\"sub\">shaded: the lowest recall</p>\n"
                                     : std::string())
       << step_time_html(r.step_time) << "<h2>Charts</h2>\n<div class=\"grid\">\n";
  auto fig = [&](const std::string& f, const std::string& caption) {
    if (!has(f)) return;
    html << "<figure><img src=\"" << esc(f) << "\" alt=\"" << esc(caption) << "\"><figcaption>" << esc(caption)
         << "</figcaption></figure>\n";
  };
  const std::string marks = std::string(by_epochs_ ? "; dotted: epoch boundaries" : "") +
                            (r.kept_step > 0 ? "; green: the step whose weights keep-best kept" : "");
  const std::string tested = live              ? ""
                             : r.kept_step > 0 ? "; dashed: the test set with the weights of step " +
                                                     std::to_string(r.kept_step) + " (kept by keep-best)"
                                               : "; dashed: the test set with the last weights";
  fig("loss.png",
      "Log-loss by training step: the training loss every few steps (faint) and smoothed as TensorBoard "
      "does (0.6), each evaluation point's training and validation loss (metrics.csv, steps.csv)" +
          marks);
  fig("accuracy.png", "Accuracy at each evaluation point, training and validation" + tested + marks);
  fig("lr.png", std::string("Learning rate ") + (by_epochs_ ? "per epoch" : "by training step") +
                    " (each point's rate over the steps that used it)");
  fig("confusion.png", "Confusion matrix of the test set, rows normalised (confusion.csv has the counts)");
  for (const Baseline& b : r.baselines)
    fig("confusion_" + b.name + ".png", "Confusion matrix of " + b.what + " on the same test set");
  fig("mistakes.png",
      "The test set's most confident mistakes (the highest probability for a wrong class first): under each image its "
      "label (dark) and the predicted class (red); mistakes.csv has the probabilities");
  fig("weights.png", "First-layer weights after training: one tile per unit; blue negative, red positive");
  for (const auto& [step, w] : snapshots_) {
    (void)w;
    fig("weights_step" + std::to_string(step) + ".png", "First-layer weights after step " + std::to_string(step));
  }
  fig("labels.png", "Labels of the training images this run used");
  fig("samples.png", "The first 40 training images with their labels");
  fig("pixels.png", "The first training image's pixel values, as the model reads them (×255)");
  html << "</div>\n</body>\n</html>\n";
  write_file(dir_ + "/index.html", html.str());  // atomic, checked, never through a planted link
}

}  // namespace gradc::cli
