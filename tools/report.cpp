#include "tools/report.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "autodiff/optim.h"
#include "runtime/files.h"
#include "tools/image.h"
#include "tools/spawn.h"

namespace gradc::cli {

namespace fs = std::filesystem;

std::FILE* open_report_csv(const std::string& dir, const std::string& file, const std::string& header) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::FILE* f = std::fopen((dir + "/" + file).c_str(), "w");
  if (!f) throw std::invalid_argument("gradc: cannot write " + dir + "/" + file + ": " + std::strerror(errno));
  std::fprintf(f, "%s\n", header.c_str());
  return f;
}

void run_gnuplot(const std::string& dir, const std::string& script) {
  const std::string gp = dir + "/.plot.gp";
  {
    std::ofstream f(gp);
    f << "set terminal pngcairo size 900,600 font 'Sans,11'\nset datafile separator ','\n" << script;
  }
  // gnuplot gets an argument vector and runs in `dir`: no shell ever sees the directory's name, and
  // the scripts name only files of their own (never a user's path: see plot_prediction).
  const SpawnResult r =
      run_capture({"gnuplot", ".plot.gp"}, {.extra_env = {}, .cwd = dir, .stderr_path = dir + "/.plot.err"});
  if (r.status != 0) {
    std::ifstream e(dir + "/.plot.err");
    std::string err((std::istreambuf_iterator<char>(e)), {});
    throw std::runtime_error("gradc: gnuplot failed in " + dir +
                             (r.status == -1 || r.status == 127
                                  ? " (gnuplot could not be started: tools/setup.sh installs gnuplot-nox)"
                                  : ": " + err));
  }
  fs::remove(gp);
  fs::remove(dir + "/.plot.err");
}

void plot_prediction(const std::string& path, const Dataset& one, const std::vector<double>& probs) {
  const fs::path p = fs::absolute(path);
  const std::string dir = p.parent_path().string();
  make_dirs(dir, "--plot");
  {
    std::ofstream d(dir + "/.digit.csv"), b(dir + "/.probs.csv");
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) d << x << "," << 27 - y << "," << one.x[static_cast<size_t>(y * 28 + x)] << "\n";
    for (size_t k = 0; k < probs.size(); ++k) b << k << "," << probs[k] << "\n";
  }
  const auto best = std::max_element(probs.begin(), probs.end()) - probs.begin();
  std::ostringstream s;
  // The chart is drawn to a name of ours and renamed: the user's file name never enters the script
  // (gnuplot strings can run commands through system()).
  s << "set terminal pngcairo size 1000,420 font 'Sans,11'\nset output '.predict.png'\n"
    << "set multiplot layout 1,2\nunset key\nset palette gray negative\nunset colorbox\nset size ratio -1\n"
    << "set title 'image (label " << one.y[0] << ")'\nunset xtics\nunset ytics\n"
    << "plot '.digit.csv' using 1:2:3 with image\n"
    << "set size noratio\nset title 'class probabilities (predicted " << best << ")'\nset xtics 0,1,9\nset ytics\n"
    << "set yrange [0:1]\nset xrange [-0.6:9.6]\nset style fill solid 0.8\nset boxwidth 0.7\n"
    << "plot '.probs.csv' using 1:2 with boxes lc rgb '#3b6fb6', '' using 1:2:(sprintf('%.2f',$2)) with labels offset "
       "0,0.7\n"
    << "unset multiplot\n";
  run_gnuplot(dir, s.str());
  fs::remove(dir + "/.digit.csv");
  fs::remove(dir + "/.probs.csv");
  fs::rename(dir + "/.predict.png", p);
}

Report::Report(std::string dir, TrainConfig& cfg, const std::string& weights_at) : dir_(std::move(dir)), cfg_(cfg) {
  make_dirs(dir_, "--report");
  if (!cfg.resume_dir.empty() && file_kind(dir_ + "/metrics.csv") == "a regular file") {
    std::istringstream in(read_regular(dir_ + "/metrics.csv", size_t{1} << 30));
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) earlier_.emplace_back(std::strtoll(line.c_str(), nullptr, 10), line);
  }
  rewrite_csv(INT64_MAX);
  files_.push_back("metrics.csv");
  std::stringstream ss(weights_at);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || v <= 0)
      throw std::invalid_argument("gradc: --weights-at: '" + item + "' is not a positive step");
    cfg.snapshot_steps.push_back(v);
  }
  cfg.on_snapshot = [this](int64_t step, const std::vector<NamedTensor>& w) {
    const NamedTensor* t = first_layer(w);
    if (!t) return;
    const std::string name = "weights_step" + std::to_string(step) + ".png";
    write_png(dir_ + "/" + name, weight_grid(*t).image);
    files_.push_back(name);
    weight_snaps_.emplace_back(step, name);
  };
}

Report::~Report() {
  if (csv_) std::fclose(csv_);
}

void Report::rewrite_csv(int64_t before_step) {
  if (csv_) std::fclose(csv_);
  csv_ = std::fopen((dir_ + "/metrics.csv").c_str(), "w");
  if (!csv_) throw DataError("gradc: --report " + dir_ + ": cannot write metrics.csv: " + std::strerror(errno));
  std::fprintf(csv_, "step,epoch,lr,train_loss,val_loss,train_acc,val_acc,steps_per_s\n");
  for (const auto& [step, line] : earlier_)
    if (step < before_step) std::fprintf(csv_, "%s\n", line.c_str());
  std::fflush(csv_);
}

void Report::add_row(const PeriodRow& r) {
  if (!earlier_.empty()) {  // first row after a resume: drop the rows this run is about to redo
    rewrite_csv(r.step);
    earlier_.clear();
  }
  rows_.push_back(r);
  std::fprintf(csv_, "%lld,%lld,%.6g,%.6f,%.6f,%.6f,%.6f,%.1f\n", static_cast<long long>(r.step),
               static_cast<long long>(r.epoch), r.lr, r.train_loss, r.val_loss, r.train_acc, r.val_acc, r.steps_per_s);
  std::fflush(csv_);
}

void Report::finish(const TrainResult& r) {
  std::fclose(csv_);
  csv_ = nullptr;
  const bool has_val = r.val.count > 0;
  std::ostringstream s;
  // Curves from metrics.csv (column 1 = step).
  s << "set key autotitle columnhead\nset grid\nset xlabel 'step'\n"
    << "set output 'loss.png'\nset title 'log-loss vs. periods'\nset ylabel 'log-loss'\n"
    << "plot 'metrics.csv' using 1:4 with linespoints lw 2 title 'training'"
    << (has_val ? ", '' using 1:5 with linespoints lw 2 title 'validation'" : "") << "\n"
    << "set output 'accuracy.png'\nset title 'accuracy'\nset ylabel 'accuracy'\n"
    << "plot 'metrics.csv' using 1:6 with linespoints lw 2 title 'training'"
    << (has_val ? ", '' using 1:7 with linespoints lw 2 title 'validation'" : "") << ", " << r.test.accuracy()
    << " with lines dt 2 lw 2 title 'test (final)'\n"
    << "set output 'lr.png'\nset title 'learning rate'\nset ylabel 'learning rate'\n"
    << "plot 'metrics.csv' using 1:3 with steps lw 2 notitle\n";
  run_gnuplot(dir_, s.str());
  for (const char* f : {"loss.png", "accuracy.png", "lr.png"}) files_.push_back(f);

  // Row-normalised confusion matrix heatmap with the class labels.
  {
    std::ofstream c(dir_ + "/confusion.csv");
    c << "true,predicted,fraction,count\n";
    for (int i = 0; i < 10; ++i) {
      int64_t row = 0;
      for (int j = 0; j < 10; ++j) row += r.test.confusion[static_cast<size_t>(i * 10 + j)];
      for (int j = 0; j < 10; ++j) {
        const int64_t n = r.test.confusion[static_cast<size_t>(i * 10 + j)];
        c << i << "," << j << "," << (row ? static_cast<double>(n) / static_cast<double>(row) : 0.0) << "," << n
          << "\n";
      }
    }
  }
  run_gnuplot(
      dir_,
      "set output 'confusion.png'\nset terminal pngcairo size 760,700\n"
      "set title 'confusion matrix (test, rows normalised)'\nset xlabel 'predicted'\nset ylabel 'true'\n"
      "set xrange [-0.5:9.5]\nset yrange [9.5:-0.5]\nset xtics 0,1,9\nset ytics 0,1,9\nset cbrange [0:1]\n"
      "set palette defined (0 'white', 0.3 '#9ecae1', 1 '#08306b')\nunset key\n"
      "plot 'confusion.csv' every ::1 using 2:1:3 with image, "
      "'' every ::1 using 2:1:(sprintf('%.2f',$3)):($3 > 0.5 ? 0xffffff : 0) with labels tc rgb variable font ',9'\n");
  files_.push_back("confusion.png");
  files_.push_back("confusion.csv");

  // Weights, sample digits, label histogram, one digit's pixels.
  if (const NamedTensor* w = first_layer(r.final_params)) {
    write_png(dir_ + "/weights.png", weight_grid(*w).image);
    files_.push_back("weights.png");
  }
  Dataset train = load_named(cfg_.dataset, cfg_.data_dir, "train");
  write_png(dir_ + "/samples.png", digit_grid(train, 40, 10));
  files_.push_back("samples.png");
  {
    std::vector<int64_t> hist(10, 0);
    for (int32_t y : train.y) ++hist[static_cast<size_t>(y)];
    std::ofstream h(dir_ + "/labels.csv");
    h << "label,count\n";
    for (int k = 0; k < 10; ++k) h << k << "," << hist[static_cast<size_t>(k)] << "\n";
    std::ofstream d(dir_ + "/digit0.csv");
    d << "x,y,v\n";
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        d << x << "," << y << "," << static_cast<int>(train.x[static_cast<size_t>(y * 28 + x)] * 255 + 0.5f) << "\n";
  }
  run_gnuplot(
      dir_,
      "set output 'labels.png'\nset title 'training-set labels'\nset style fill solid 0.8\nset boxwidth 0.7\n"
      "set xtics 0,1,9\nset yrange [0:*]\nunset key\nset xlabel 'label'\nset ylabel 'count'\n"
      "plot 'labels.csv' every ::1 using 1:2 with boxes lc rgb '#3b6fb6', '' every ::1 using 1:2:2 with labels offset "
      "0,0.8\n"
      "set output 'pixels.png'\nset terminal pngcairo size 1000,1000\nset title 'training image 0 (label " +
          std::to_string(train.y[0]) +
          "): pixel values 0-255'\nset xrange [-0.5:27.5]\nset yrange [27.5:-0.5]\nset size ratio -1\n"
          "set palette gray negative\nset cbrange [0:255]\nset xtics 0,4,27\nset ytics 0,4,27\nunset key\n"
          "set xlabel ''\nset ylabel ''\n"
          "plot 'digit0.csv' every ::1 using 1:2:3 with image, '' every ::1 using 1:2:($3 > 0 ? sprintf('%d',$3) : '')"
          ":($3 > 128 ? 0xffffff : 0) with labels tc rgb variable font ',6'\n");
  for (const char* f : {"labels.png", "labels.csv", "pixels.png", "digit0.csv"}) files_.push_back(f);

  // index.html: every picture, the configuration and the final figures; no scripts, no network.
  std::ofstream html(dir_ + "/index.html");
  html << "<!doctype html><html><head><meta charset='utf-8'><title>gradc report: " << cfg_.model
       << "</title><style>body{font-family:sans-serif;margin:2em;max-width:1000px}img{max-width:100%;border:1px solid "
          "#ddd}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px "
          "8px;text-align:left}</style></head><body>\n"
       << "<h1>gradc train " << cfg_.model << "</h1>\n<h2>Result</h2><table>"
       << "<tr><th>test accuracy</th><td>" << r.test.accuracy() << "</td></tr><tr><th>test log-loss</th><td>"
       << r.test.log_loss() << "</td></tr>";
  if (has_val)
    html << "<tr><th>validation accuracy</th><td>" << r.val.accuracy()
         << "</td></tr><tr><th>validation log-loss</th><td>" << r.val.log_loss() << "</td></tr>";
  html << "<tr><th>steps</th><td>" << r.steps << "</td></tr><tr><th>wall time</th><td>" << r.seconds
       << " s</td></tr><tr><th>steps/s</th><td>" << r.steps_per_s << "</td></tr></table>\n<h2>Configuration</h2><table>"
       << "<tr><th>dataset</th><td>" << cfg_.dataset << "</td></tr><tr><th>batch</th><td>" << cfg_.batch
       << "</td></tr><tr><th>optimizer</th><td>" << optimizer_name(cfg_.opt.kind)
       << "</td></tr><tr><th>learning rate</th><td>" << cfg_.lr << "</td></tr><tr><th>clip norm</th><td>"
       << cfg_.opt.clip_norm << "</td></tr><tr><th>L2</th><td>" << cfg_.opt.l2 << "</td></tr><tr><th>EMA decay</th><td>"
       << cfg_.opt.ema_decay << "</td></tr><tr><th>seed</th><td>" << cfg_.seed << "</td></tr></table>\n"
       << "<p><a href='metrics.csv'>metrics.csv</a> · <a href='confusion.csv'>confusion.csv</a></p>\n";
  auto img = [&](const std::string& f, const std::string& caption) {
    html << "<h2>" << caption << "</h2><img src='" << f << "' alt='" << caption << "'>\n";
  };
  img("loss.png", "Log-loss vs. periods");
  img("accuracy.png", "Accuracy");
  img("lr.png", "Learning rate");
  img("confusion.png", "Confusion matrix");
  if (std::find(files_.begin(), files_.end(), "weights.png") != files_.end())
    img("weights.png", "First-layer weights (final)");
  for (const auto& [step, f] : weight_snaps_) img(f, "First-layer weights at step " + std::to_string(step));
  img("samples.png", "Sample training digits");
  img("labels.png", "Label histogram");
  img("pixels.png", "One digit's pixels");
  html << "</body></html>\n";
  files_.push_back("index.html");
}

}  // namespace gradc::cli
