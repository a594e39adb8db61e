#include "tools/report_charts.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "models/metadata.h"
#include "runtime/data_error.h"
#include "runtime/files.h"
#include "tools/gnuplot.h"
#include "tools/image.h"

namespace gradc::cli {

namespace fs = std::filesystem;

namespace {
// The x column of metrics.csv and its axis label.
std::string x_axis(bool by_epochs) {
  return by_epochs ? "set xlabel 'epoch'\nset xtics 1\nset mxtics 1\n" : "set xlabel 'training step'\n";
}
// The top offset in graph units: gnuplot refuses first-axis offsets on a log axis (lr.png).
const char* kCurveStyle =
    "set key below horizontal\nset grid\nset border 3\nset xtics nomirror\nset ytics nomirror\nset offsets "
    "0,0,graph 0.02,0\n";

struct LrPoint {
  double x, lr;
};
// (x, lr) of every metrics.csv row: x is the epoch or the step.
std::vector<LrPoint> read_lr(const std::string& csv, bool by_epochs) {
  std::vector<LrPoint> pts;
  for (const std::vector<std::string>& f : read_metrics_csv(csv).rows)
    if (f.size() >= 3)
      pts.push_back({std::strtod(f[by_epochs ? 1 : 0].c_str(), nullptr), std::strtod(f[2].c_str(), nullptr)});
  return pts;
}
}  // namespace

namespace {
// Epoch boundaries (dotted, up to 60 of them) and the kept weights' step (green, labelled).
std::string curve_marks(const CurveSpec& c) {
  std::ostringstream s;
  if (c.by_epochs && c.steps_per_epoch > 0 && c.total_steps / c.steps_per_epoch <= 60)
    for (int64_t e = c.steps_per_epoch; e < c.total_steps; e += c.steps_per_epoch) {
      s << "set arrow from " << e << ", graph 0 to " << e << ", graph 1 nohead dt 2 lw 1.5 lc rgb '#888888'\n";
      if (c.total_steps / c.steps_per_epoch <= 20)  // which epoch starts here, while the labels fit
        s << "set label 'epoch " << e / c.steps_per_epoch + 1 << "' at " << e
          << ", graph 0.9 left offset 0.4,0 textcolor rgb '#888888' font ',8'\n";
    }
  if (c.kept_step > 0) {
    s << "set arrow from " << c.kept_step << ", graph 0 to " << c.kept_step
      << ", graph 1 nohead lw 2 lc rgb '#2ca02c'\nset label 'kept weights' at " << c.kept_step
      << ", graph 0.97 right offset -0.5,0 textcolor rgb '#2ca02c'\n";
  }
  return s.str();
}

// Which weights the test line measures, for its legend.
std::string test_title(const CurveSpec& c) {
  if (c.kept_step <= 0) return "test (last weights)";
  std::string t = "test (weights kept at step " + std::to_string(c.kept_step);
  if (c.by_epochs && c.steps_per_epoch > 0) t += ", epoch " + std::to_string((c.kept_step - 1) / c.steps_per_epoch + 1);
  return t + ")";
}
}  // namespace

MetricsCsv read_metrics_csv(const std::string& path) {
  MetricsCsv m{read_regular(path, size_t{1} << 30), {}};
  std::istringstream in(m.text);
  std::string line;
  std::getline(in, line);
  if (line.rfind("step,epoch,lr,loss,acc,val_loss,val_acc", 0) != 0)
    throw DataError("gradc: " + path + " is not a gradc metrics.csv (header '" + line.substr(0, 60) + "')");
  while (std::getline(in, line)) {
    std::vector<std::string>& f = m.rows.emplace_back();
    std::stringstream ss(line);
    for (std::string item; std::getline(ss, item, ',');) f.push_back(item);
  }
  return m;
}

Files plot_curves(const std::string& dir, const CurveSpec& c) {
  std::ostringstream s;
  s << kCurveStyle << "set xlabel 'training step'\n"
    << curve_marks(c) << "set output 'loss.png'\nset title 'log-loss'\n"
    << "set ylabel 'log-loss'\nplot ";
  if (c.has_steps)
    s << "'steps.csv' using 1:2 with lines lw 1 lc rgb '#b9cfe6' title 'training (raw)', '' using 1:3 with lines lw 2 "
         "lc rgb '#1f77b4' title 'training (smoothed)', 'metrics.csv' using 1:4 with points pt 7 ps 0.6 lc rgb "
         "'#1f77b4' title 'training (per point)'";
  else
    s << "'metrics.csv' using 1:4 with linespoints lw 2 lc rgb '#1f77b4' title 'training'";
  s << (c.has_val ? ", 'metrics.csv' using 1:6 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title 'validation'"
                  : "")
    << "\nset output 'accuracy.png'\nset title 'accuracy'\nset ylabel 'accuracy'\n"
    << "plot 'metrics.csv' using 1:5 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title 'training'"
    << (c.has_val ? ", '' using 1:7 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title 'validation'" : "")
    << (std::isfinite(c.test_accuracy)  // NaN: training in progress, no test figure yet
            ? ", " + format("%.6f", c.test_accuracy) + " with lines dt 2 lw 2 lc rgb 'black' title '" + test_title(c) +
                  "'"
            : std::string())
    << "\n";
  std::vector<PlotData> data = {data_file(dir, "metrics.csv")};
  if (c.has_steps) data.push_back(data_file(dir, "steps.csv"));
  run_gnuplot(dir, s.str(), data);
  return c.has_steps ? Files{"steps.csv", "loss.png", "accuracy.png"} : Files{"loss.png", "accuracy.png"};
}

Files plot_lr(const std::string& dir, bool by_epochs) {
  const std::vector<LrPoint> pts = read_lr(dir + "/metrics.csv", by_epochs);
  std::set<double> rates;
  for (const LrPoint& p : pts) rates.insert(p.lr);
  if (rates.size() < 2) return {};
  // each row's rate is the one its steps used: drawn from the previous point to this one
  std::ostringstream f;
  f << "x,lr\n" << format("%.17g", by_epochs ? pts[0].x - 1 : 0) << "," << format("%.17g", pts[0].lr) << "\n";
  for (const LrPoint& p : pts) f << format("%.17g", p.x) << "," << format("%.17g", p.lr) << "\n";
  write_file(dir + "/lr.csv", f.str());
  const double lo = *rates.begin(), hi = *rates.rbegin();
  std::ostringstream s;
  s << kCurveStyle << x_axis(by_epochs) << "set output 'lr.png'\nset title 'learning rate"
    << (by_epochs ? " per epoch" : " by training step") << "'\nset ylabel 'learning rate'\nset format y '%g'\n"
    << (hi / std::max(lo, 1e-30) > 20 ? "set logscale y\n" : "") << "unset key\n"
    << "plot 'lr.csv' every ::1 using 1:2 with fsteps lw 2 lc rgb '#3b6fb6'\n";
  run_gnuplot(dir, s.str(), {{"lr.csv", f.str()}});
  return {"lr.png", "lr.csv"};
}

Files plot_confusion(const std::string& dir, const Metrics& test, const std::string& stem, const std::string& who) {
  const std::string csv = stem + ".csv", png = stem + ".png";
  const int k = test.classes;
  std::ostringstream c;
  c << "true,predicted,fraction,count\n";
  {
    for (int i = 0; i < k; ++i) {
      int64_t row = 0;
      for (int j = 0; j < k; ++j) row += test.confusion[static_cast<size_t>(i * k + j)];
      for (int j = 0; j < k; ++j) {
        const int64_t n = test.confusion[static_cast<size_t>(i * k + j)];
        c << i << "," << j << "," << (row ? static_cast<double>(n) / static_cast<double>(row) : 0.0) << "," << n
          << "\n";
      }
    }
  }
  write_file(dir + "/" + csv, c.str());
  const std::string last = std::to_string(k - 1), edge = format("%.1f", k - 0.5);
  run_gnuplot(dir,
              "set output '" + png +
                  "'\nset terminal pngcairo size 760,700 font 'Sans,11'\n"
                  "set title '" +
                  (who.empty() ? std::string() : who + ": ") +
                  "confusion matrix (test set, each row sums to 1)'\nset xlabel 'predicted class'\n"
                  "set ylabel 'true class'\nset xrange [-0.5:" +
                  edge + "]\nset yrange [" + edge + ":-0.5]\nset xtics 0,1," + last + "\nset ytics 0,1," + last +
                  "\nset cbrange [0:1]\nset cblabel 'fraction of the row'\n"
                  "set palette defined (0 'white', 0.3 '#9ecae1', 1 '#08306b')\nunset key\n"
                  "plot '" +
                  csv +
                  "' every ::1 using 2:1:3 with image, '' every ::1 using "
                  "2:1:($3 >= 0.005 ? sprintf('%.2f',$3) : ''):($3 > 0.5 ? 0xffffff : 0) with labels tc rgb variable "
                  "font ',9'\n",
              {{csv, c.str()}});
  return {png, csv};
}

Files plot_weights(const std::string& dir, const NamedTensor& w, const std::string& png, const std::string& title) {
  const WeightTiles t = weight_tiles(w);
  const std::string data = png + ".csv";
  std::ostringstream f;
  {
    for (int y = 0; y < t.h; ++y) {
      for (int x = 0; x < t.w; ++x) {
        const float v = t.v[static_cast<size_t>(y * t.w + x)];
        f << (x ? "," : "") << (std::isnan(v) ? std::string("NaN") : format("%.6g", v));
      }
      f << "\n";
    }
  }
  // About 900 px for the grid's longer side, plus the colour bar and title.
  const double px = 900.0 / std::max(t.w, t.h);
  const int width = static_cast<int>(t.w * px) + 190, height = static_cast<int>(t.h * px) + 90;
  const std::string m = format("%.6g", std::max(t.max_abs, 1e-12f));
  std::ostringstream s;
  s << "set terminal pngcairo size " << width << "," << height << " font 'Sans,11'\nset output '" << png << "'\n"
    << "set title '" << title << "'\nunset key\nunset xtics\nunset ytics\nset border 0\nset size ratio -1\n"
    << "set xrange [-0.5:" << t.w - 0.5 << "]\nset yrange [" << t.h - 0.5 << ":-0.5]\n"
    << "set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor rgb '#9a9a9a' fillstyle solid noborder\n"
    << "set palette positive defined (-1 '#2166ac', 0 'white', 1 '#b2182b')\nset cbrange [-" << m << ":" << m << "]\n"
    << "set cblabel 'weight'\nset colorbox\n"
    << "plot '" << data << "' matrix with image\n";
  run_gnuplot(dir, s.str(), {{data, f.str()}});
  return {png};
}

Files plot_data(const std::string& dir, const Dataset& train) {
  std::vector<int64_t> hist(10, 0);
  for (int32_t y : train.y)
    if (y >= 0 && y < 10) ++hist[static_cast<size_t>(y)];
  std::ostringstream h, d;
  h << "label,count\n";
  for (int k = 0; k < 10; ++k) h << k << "," << hist[static_cast<size_t>(k)] << "\n";
  d << "x,y,v\n";
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      d << x << "," << y << "," << static_cast<int>(train.x[static_cast<size_t>(y * 28 + x)] * 255 + 0.5f) << "\n";
  write_file(dir + "/labels.csv", h.str());
  write_file(dir + "/digit0.csv", d.str());
  const int64_t top = *std::max_element(hist.begin(), hist.end());
  run_gnuplot(
      dir,
      "set output 'labels.png'\nset title 'labels of the " + grouped(train.n) +
          " training images used'\nset style fill solid 0.8\nset boxwidth 0.7\nset xtics 0,1,9\nset yrange [0:" +
          std::to_string(top + top / 6 + 1) +
          "]\nset xrange [-0.6:9.6]\nunset key\nset xlabel 'label'\nset ylabel 'images'\n"
          "plot 'labels.csv' every ::1 using 1:2 with boxes lc rgb '#3b6fb6', '' every ::1 using 1:2:2 with "
          "labels offset 0,0.8\n"
          "set output 'pixels.png'\nset terminal pngcairo size 1000,1000 font 'Sans,11'\n"
          "set title 'training image 0 (label " +
          std::to_string(train.y[0]) +
          "): pixel values 0-255'\nset xrange [-0.5:27.5]\nset yrange [27.5:-0.5]\nset size ratio -1\n"
          "set palette gray negative\nset cbrange [0:255]\nset xtics 0,4,27\nset ytics 0,4,27\nunset key\n"
          "set xlabel 'column'\nset ylabel 'row'\n"
          "plot 'digit0.csv' every ::1 using 1:2:3 with image, '' every ::1 using 1:2:($3 > 0 ? "
          "sprintf('%d',$3) : ''):($3 > 128 ? 0xffffff : 0) with labels tc rgb variable font ',6'\n",
      {{"labels.csv", h.str()}, {"digit0.csv", d.str()}});
  return {"labels.png", "labels.csv", "pixels.png", "digit0.csv"};
}

void plot_prediction(const std::string& path, const float* pixels, int label, const std::vector<double>& probs,
                     const std::vector<float>& saliency) {
  const fs::path p = fs::absolute(path);
  const std::string dir = p.parent_path().string();
  make_dirs(dir, "--plot");
  const auto best = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
  std::ostringstream d, b, g;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) d << x << "," << 27 - y << "," << pixels[y * 28 + x] << "\n";
  const bool sal = saliency.size() == 784;
  double gmax = 1e-30;
  for (float v : saliency) gmax = std::max(gmax, std::abs(static_cast<double>(v)));
  if (sal)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        g << x << "," << 27 - y << "," << saliency[static_cast<size_t>(y * 28 + x)] / gmax << "\n";
  // Colour: the predicted class green when right (or no label), red when wrong; the true one labelled.
  for (size_t k = 0; k < probs.size(); ++k) {
    const bool predicted = static_cast<int>(k) == best;
    const int colour = predicted ? (label < 0 || label == best ? 0x2e9e4f : 0xd62728) : 0x9ab7d9;
    b << k << "," << probs[k] << "," << colour << "," << (static_cast<int>(k) == label ? 1 : 0) << "\n";
  }
  const std::string cls = std::to_string(probs.size() - 1);
  std::ostringstream s;
  // Drawn to a name of ours and renamed: the user's file name never enters the script.
  s << "set terminal pngcairo size " << (sal ? 1400 : 1000) << ",420 font 'Sans,11'\nset output 'predict.png'\n"
    << "set multiplot layout 1," << (sal ? 3 : 2) << "\nunset key\nset palette gray negative\nunset colorbox\n"
    << "set size ratio -1\n"
    << "set title 'input, 28×28" << (label >= 0 ? " (label " + std::to_string(label) + ")" : "") << "'\n"
    << "unset xtics\nunset ytics\nplot 'digit.csv' using 1:2:3 with image\n";
  if (sal)  // blue lowers the predicted class's logit, red raises it; scaled to the largest |gradient|
    s << "set title 'saliency: ∂ logit[" << best << "] / ∂ input'\n"
      << "set palette positive defined (-1 '#2166ac', 0 'white', 1 '#b2182b')\nset cbrange [-1:1]\nset colorbox\n"
      << "set cbtics ('−max' -1, '0' 0, '+max' 1)\nplot 'saliency.csv' using 1:2:3 with image\n"
      << "unset colorbox\nset palette gray negative\n";
  s << "set size noratio\nset title 'class probabilities: predicted " << best
    << (label >= 0 ? (label == best ? " (correct)" : ", true " + std::to_string(label)) : "") << "'\n"
    << "set xtics 0,1," << cls << "\nset ytics\nset yrange [0:1.15]\nset xrange [-0.6:" << probs.size() - 0.4 << "]\n"
    << "set style fill solid 0.85\nset boxwidth 0.7\nset xlabel 'class'\nset ylabel 'probability'\n"
    << "plot 'probs.csv' using 1:2:3 with boxes lc rgb variable, "
    << "'' using 1:($4 > 0 ? 1.07 : 1/0):(\"true\") with labels font ',11,Bold', "
    << "'' using 1:2:(sprintf('%.2f',$2)) with labels offset 0,0.7\nunset multiplot\n";
  std::vector<PlotData> data = {{"digit.csv", d.str()}, {"probs.csv", b.str()}};
  if (sal) data.push_back({"saliency.csv", g.str()});
  run_gnuplot(dir, s.str(), data, {{"predict.png", p.string()}});
}

}  // namespace gradc::cli
