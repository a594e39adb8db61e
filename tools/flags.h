// Flag values are values, checked: CLI11 validators for the numeric flags. Floats must be finite,
// representable as float and in range (`--lr nan` trained into NaN, `--clip nan` turned clipping
// off, `--lr 1e39` became inf); unsigned integers must be plain decimal in range (`--seed -1`,
// `2^64` and `1e23` all became 18446744073709551615); the messages print short numbers.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gradc::cli {

enum class Bound { Closed, Open };  // whether `lo` itself is allowed

// A finite float in [lo, hi] (or (lo, hi] with Bound::Open).
CLI::Validator finite_float(double lo, double hi, Bound low = Bound::Closed);
// The integer flags' check, in finite_float's words: "'x' is not an integer", "'-3' is outside [1, 16]".
CLI::Validator int_range(int64_t lo, int64_t hi);
// A flag with a fixed set of values: "'val' is not one of test, train".
CLI::Validator one_of(std::vector<std::string> names);
// --optimizer: one of the optimizers add_optimizer knows (autodiff/optim.h).
CLI::Validator optimizer_kind();
// "adagrad", or "adagrad, clipped to global norm 5" with --clip: how compile and bench name the step's update.
std::string optimizer_label(const std::string& optimizer, float clip);
// A decimal integer in [0, 2^64 - 1].
CLI::Validator unsigned64();

// The MODEL positional of a command: any letter case ("DNN" is dnn), an unknown name refused with
// the nearest known one suggested; `extra`: other words it takes (bench: suite, gemm, scaling).
CLI::Option* add_model_positional(CLI::App* cmd, std::string& model, const std::string& help,
                                  const std::vector<std::string>& extra = {});

// For CLI11's "argument(s) not expected" error of a subcommand of `app`: "gradc train: unknown
// flag --epoch; did you mean --epochs?" when a flag of that subcommand is near; else "".
std::string unknown_flag_message(CLI::App& app, const std::string& cli11_message);

}  // namespace gradc::cli

#include "models/models.h"

namespace gradc::cli {

// --hidden/--activation/--dropout (the mlp model) and --filters/--kernel/--dense (cnn), on every
// command that builds a model. resolve() refuses a flag the model does not take.
// --ranks N on dot/compile: draw or compile one rank's step of an N-rank data-parallel run (the
// allreduce nodes and their buckets); the global batch must split evenly (local_batch: else exit 2).
void add_ranks_flag(CLI::App* cmd, int& ranks);
// "10,100,1000" -> integers >= min (a flag's value); throws std::invalid_argument naming `flag`.
std::vector<int64_t> parse_int_list(const std::string& list, const std::string& flag, int64_t min,
                                    int64_t max = INT64_MAX);
int64_t local_batch(int64_t global, int ranks);

struct ArchFlags {
  std::vector<int64_t> hidden;
  std::string activation;
  std::optional<float> dropout;
  std::optional<int64_t> filters, kernel, dense;
  std::vector<int64_t> conv;
  std::string pool;
  bool batch_norm = false;
  void add(CLI::App* cmd);
  Arch resolve(const std::string& model) const;
};

}  // namespace gradc::cli
