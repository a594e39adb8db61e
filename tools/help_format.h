// `gradc CMD --help` as a user reads it: options grouped (data, model, optimizer, schedule,
// checkpoints, output, compile), each with its default, no CLI11 type names, "gradc" in Usage.
#pragma once
#include <CLI/CLI.hpp>

namespace gradc::cli {

// Puts every option of every subcommand into its group and installs the formatter; call after
// all subcommands and options are added.
void format_help(CLI::App& app);

}  // namespace gradc::cli
