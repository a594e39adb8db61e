// gradc: define, inspect, train and benchmark MNIST models compiled from a C++ graph DSL.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "autodiff/graph.h"
#include "compiler/code_cache.h"
#include "compiler/passes.h"
#include "compiler/target.h"
#include "runtime/comm.h"
#include "runtime/dataset.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/help_format.h"
#include "tools/peak.h"
#include "tools/version.h"

namespace gradc::cli {
void CompileFlags::add(CLI::App* cmd) {
  cmd->add_flag("--no-fuse", no_fuse, "Compile without fusion (cleanup passes only, one kernel per op)");
  cmd->add_option("--passes", passes, "Explicit pass pipeline, e.g. simplify,fold,cse,dce,fuse-dense");
  cmd->add_option("--precision", precision,
                  "f32, or bf16: the step's GEMM operands rounded to bf16 and multiplied by vdpbf16ps into f32 "
                  "(AVX512_BF16 targets; weights, optimizer state and activations stay f32). Faster only where the "
                  "CPU issues vdpbf16ps as fast as FMAs: on Sapphire Rapids it runs at half the f32 speed")
      ->check(one_of({"f32", "bf16"}))
      ->capture_default_str();
}

CompileOptions CompileFlags::options() const {
  CompileOptions o;
  o.fuse = !no_fuse;
  o.bf16 = precision == "bf16";
  o.passes = split_passes(passes);
  for (const std::string& p : o.passes) find_pass(p);  // unknown names fail before any work
  return o;
}

void add_target_option(CLI::App& app) {
  const CLI::Validator known(
      [](std::string& name) {
        try {
          make_target(name);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      },
      "TARGET");
  static std::string chosen;  // the last --target seen (set_default_target already applied it)
  for (CLI::App* sub : app.get_subcommands({}))
    sub->add_option("--target", chosen,
                    "Compile for this target instead of $GRADC_TARGET or the host: " + std::string(target_names_help()))
        ->check(known)
        ->each([](const std::string& name) { set_default_target(name); });
}

std::string default_mnist_dir() {
  const char* env = std::getenv("GRADC_DATA");
  return std::string(env && *env ? env : "data") + "/mnist";
}
}  // namespace gradc::cli

namespace {
int run(int argc, char** argv);

// One line on stderr. In a data-parallel run an error every rank meets (a bad flag, a missing
// file) is said once: rank 0 says it at once and ends the job; the other ranks wait a moment first,
// so they speak only when the error is theirs alone.
void say_error(const std::string& line) {
  if (gradc::world_is_distributed() && gradc::world().rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}
}  // namespace

// In a data-parallel run an error on one rank ends them all (MPI_Abort), so no rank waits forever
// in a collective for a peer that has stopped.
int main(int argc, char** argv) {
  const int status = run(argc, argv);
  if (status != 0 && gradc::world_is_distributed()) gradc::world().abort(status);
  return status;
}

namespace {
int run(int argc, char** argv) {
  // The JIT's code and the benchmarks' probes need at least x86-64-v3 (AVX2 + FMA): say so and stop
  // rather than die of SIGILL later.
  if (!gradc::cli::host_has_avx2_fma()) {
    std::fprintf(stderr, "gradc: error: this CPU lacks AVX2+FMA; gradc needs an x86-64-v3 CPU or newer\n");
    return 2;
  }
  // libomp aborts on a malformed OMP_NUM_THREADS: check it before anything starts OpenMP.
  try {
    gradc::check_omp_env();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  // Line-buffered even into a file or pipe: every progress and period line reaches `> log`, `tee`
  // and CI logs when it is written, not at exit.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  gradc::cli::set_command_line(argc, argv);
  CLI::App app{"gradc: a deep-learning graph compiler for the MNIST tutorial models"};
  app.set_version_flag("--version", [] {
    const gradc::Target& t = gradc::default_target();
    return gradc::cli::version_text() + "\ntarget: " + t.describe();
  });
  app.require_subcommand(1);
  gradc::cli::add_dot(app);
  gradc::cli::add_step(app);
  gradc::cli::add_summary(app);
  gradc::cli::add_train(app);
  gradc::cli::add_compile(app);
  gradc::cli::add_bench(app);
  gradc::cli::add_eval(app);
  gradc::cli::add_predict(app);
  gradc::cli::add_export(app);
  gradc::cli::add_report(app);
  gradc::cli::add_compare(app);
  gradc::cli::add_models(app);
  gradc::cli::add_target_option(app);
  // Compiled kernels are kept on disk between runs (compiler/code_cache.h); --no-cache opts out.
  gradc::set_code_cache_dir(gradc::default_code_cache_dir());
  for (CLI::App* sub : app.get_subcommands({}))
    sub->add_flag_callback(
        "--no-cache", [] { gradc::set_code_cache_dir(""); },
        "Compile afresh: neither read nor write the code cache ($XDG_CACHE_HOME/gradc)");
  gradc::cli::format_help(app);
  // One line per error, in the words of gradc's own errors (no second "Run with --help" line).
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    const std::string what = e.what();
    return (what.rfind("gradc", 0) == 0 ? what : "gradc: " + what) + " (--help lists the flags)\n";
  });
  try {
    // An unknown GRADC_TARGET is an error before any work, unless --target overrides it.
    bool flag = false;
    for (int i = 1; i < argc; ++i) flag |= std::string(argv[i]).rfind("--target", 0) == 0;
    if (!flag) gradc::default_target();
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    const std::string hint = gradc::cli::unknown_flag_message(app, e.what());
    if (hint.empty()) return app.exit(e), 2;
    say_error(hint);
    return 2;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const gradc::cli::ExitStatus& e) {
    return e.code;
  } catch (const gradc::cli::UsageError& e) {
    say_error(e.what());
    return 2;
  } catch (const gradc::DataError& e) {
    say_error(e.what());
    return 2;
  } catch (const std::invalid_argument& e) {  // GraphError, unknown model, bad values
    say_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    std::string what = e.what();  // internal failures: one "gradc: error:" prefix, not two
    if (what.rfind("gradc: ", 0) == 0) what.erase(0, 7);
    say_error("gradc: error: " + what);
    return 1;
  }
  return 0;
}
}  // namespace
