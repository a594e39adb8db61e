// CLI subcommands. Each add_* registers a subcommand whose callback does the work; errors are
// thrown and mapped to exit codes in main.cpp (2 = bad input/arguments, 1 = internal failure).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "compiler/jit.h"
#include "runtime/checkpoint.h"

namespace gradc::cli {

void add_dot(CLI::App& app);
void add_step(CLI::App& app);
void add_summary(CLI::App& app);
void add_train(CLI::App& app);
void add_compile(CLI::App& app);
void add_bench(CLI::App& app);
void add_eval(CLI::App& app);
void add_predict(CLI::App& app);
void add_models(CLI::App& app);
void add_export(CLI::App& app);
void add_report(CLI::App& app);
void add_compare(CLI::App& app);

// --no-fuse / --passes, shared by the commands that compile.
struct CompileFlags {
  bool no_fuse = false;
  std::string passes, precision = "f32";
  void add(CLI::App* cmd);
  CompileOptions options() const;
};

// --target NAME on every subcommand: sets the process's default target (compiler/target.h) while
// the command line is parsed, before the subcommand runs; unknown names are exit 2.
void add_target_option(CLI::App& app);

// The model a checkpoint was trained as: `override_name` when given, else its "model" metadata
// (UsageError naming `path` when it has none).
std::string checkpoint_model(const Checkpoint& c, const std::string& path, const std::string& override_name);

// Where MNIST lives: $GRADC_DATA/mnist if set, else ./data/mnist.
std::string default_mnist_dir();

// Thrown to end the command with this exit status after it said why (128 + a signal's number when
// Ctrl-C or SIGTERM stopped a run that then saved its work).
struct ExitStatus {
  int code;
};

// Thrown for bad user input that CLI11 cannot see (missing files, bad values): exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace gradc::cli
