#include "tools/report.h"

#include <filesystem>
#include <stdexcept>

namespace gradc::cli {

Report::Report(std::string dir, const TrainConfig& cfg, const std::string&) : dir_(std::move(dir)), cfg_(cfg) {
  std::filesystem::create_directories(dir_);
  csv_ = std::fopen((dir_ + "/metrics.csv").c_str(), "w");
  if (!csv_) throw std::runtime_error("gradc: cannot write " + dir_ + "/metrics.csv");
  std::fprintf(csv_, "step,epoch,lr,train_loss,val_loss,train_acc,val_acc,steps_per_s\n");
}

void Report::add_row(const PeriodRow& r) {
  rows_.push_back(r);
  std::fprintf(csv_, "%lld,%lld,%.6g,%.6f,%.6f,%.6f,%.6f,%.1f\n", static_cast<long long>(r.step),
               static_cast<long long>(r.epoch), r.lr, r.train_loss, r.val_loss, r.train_acc, r.val_acc, r.steps_per_s);
  std::fflush(csv_);
}

void Report::finish(const TrainResult&) {
  std::fclose(csv_);
  csv_ = nullptr;
}

}  // namespace gradc::cli
