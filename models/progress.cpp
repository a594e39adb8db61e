// ProgressLogger: Keras's per-epoch progress bar and closing line.
#include <cmath>

#include "models/callbacks.h"
#include "models/metadata.h"

namespace gradc {

ProgressLogger::ProgressLogger(bool terminal) : tty_(terminal) {}

namespace {
std::string duration(double s) {
  if (s < 60) return format("%.0fs", s);
  if (s < 3600) return format("%.0f", std::floor(s / 60)) + ":" + format("%02.0f", std::fmod(s, 60));
  return format("%.0f", std::floor(s / 3600)) + "h" + format("%02.0f", std::fmod(s / 60, 60)) + "m";
}

std::string metrics_text(double loss, double acc) {
  return " - loss: " + format("%.4f", loss) + " - acc: " + format("%.4f", acc);
}
}  // namespace

void ProgressLogger::bar(const Trainer& t, int64_t done, int64_t n, const std::string& tail) const {
  constexpr int kWidth = 30;
  const auto filled = static_cast<int>(kWidth * done / std::max<int64_t>(1, n));
  std::string b(static_cast<size_t>(kWidth), '.');
  for (int i = 0; i < filled; ++i) b[static_cast<size_t>(i)] = '=';
  if (filled < kWidth && filled > 0) b[static_cast<size_t>(filled - 1)] = '>';
  const int digits = static_cast<int>(std::to_string(n).size());
  std::printf("%s%*lld/%lld [%s]%s%s", tty_ ? "\r\033[K" : "", digits, static_cast<long long>(done),
              static_cast<long long>(n), b.c_str(), tail.c_str(), tty_ && tail.back() != '\n' ? "" : "");
  (void)t;
  std::fflush(stdout);
}

void ProgressLogger::on_step_end(Trainer& t, float) {
  const int64_t every = t.eval_every(), step = t.step();
  const int64_t point_first = (step - 1) / every * every;  // the step before this point's first
  const int64_t n = std::min(every, t.total_steps() - point_first);
  if (step - 1 == point_first || step - 1 == t.start_step()) {  // a point begins (or a resumed run)
    const int64_t points = (t.total_steps() + every - 1) / every;
    std::printf("%s %lld/%lld\n", t.by_steps() ? "Period" : "Epoch", static_cast<long long>(point_first / every + 1),
                static_cast<long long>(points));
    point_start_ = t.seconds();
    last_print_ = -1;
  }
  if (!tty_) return;
  const double now = t.seconds();
  if (last_print_ >= 0 && now - last_print_ < 0.2) return;
  last_print_ = now;
  const int64_t done = step - point_first;
  const int64_t resumed = std::max<int64_t>(0, t.start_step() - point_first);
  const double per_step = (now - point_start_) / static_cast<double>(std::max<int64_t>(1, done - resumed));
  bar(t, done, n,
      " - ETA: " + duration(per_step * static_cast<double>(n - done)) +
          metrics_text(t.running_loss(), t.running_acc()));
}

void ProgressLogger::on_eval(Trainer& t, const PeriodRow& row) {
  const int64_t every = t.eval_every();
  const int64_t point_first = (row.step - 1) / every * every;
  const int64_t n = row.step - point_first;
  const double took = t.seconds() - point_start_;
  const double ms_per_step = 1000.0 / std::max(row.steps_per_s, 1e-9);
  std::string tail = " - " + duration(took) + " " + format(ms_per_step < 10 ? "%.2f" : "%.0f", ms_per_step) +
                     "ms/step" + metrics_text(row.train_loss, row.train_acc);
  if (row.has_val)
    tail += " - val_loss: " + format("%.4f", row.val_loss) + " - val_acc: " + format("%.4f", row.val_acc);
  tail += " - lr: " + format("%.4g", row.lr) + "\n";
  bar(t, n, n, tail);
}

}  // namespace gradc
