// gradc train MODEL: every tutorial hyperparameter is a flag whose default is the model's recipe.
#include <chrono>
#include <optional>
#include <set>

#include "models/models.h"
#include "models/train.h"
#include "runtime/comm.h"
#include "runtime/files.h"
#include "runtime/interrupt.h"
#include "runtime/threads.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/report.h"
#include "tools/version.h"

namespace gradc::cli {

namespace {
struct TrainFlags {
  std::string model, preset, optimizer, schedule, engine, dataset, data, checkpoint_dir, resume, report, gate = "both";
  std::optional<int64_t> batch, steps, epochs, first_n, train_n, val_n, test_n, checkpoint_every, decay_steps;
  std::optional<int> periods, threads;
  std::optional<float> lr, clip, l2, ema, momentum, decay_rate, warmup;
  std::optional<double> val_fraction;
  std::optional<uint64_t> seed;
  std::string loss_reduction;
  bool quiet = false;
  bool staircase = false, keep_best = false, no_keep_best = false, early_stop = false, check_numerics = false;
  bool allow_recipe_change = false;
  std::string weights_at, monitor, csv_log;
  double report_every = kLiveSeconds;
  std::optional<int> patience, keep_last;
  std::optional<double> plateau;
  CompileFlags compile;
  ArchFlags arch;
};

template <class T, class U>
void set_if(const std::optional<T>& v, U& dst) {
  if (v) dst = static_cast<U>(*v);
}

void print_result(const TrainConfig& c, const TrainResult& r) {
  std::printf("\n%s: %lld steps in %.1f s (%.0f steps/s, compile %.0f ms)\n", c.model.c_str(),
              static_cast<long long>(r.steps), r.seconds, r.steps_per_s, r.compile_ms);
  if (r.val.count)
    std::printf("validation: accuracy %.4f  log-loss %.4f  (%lld examples)\n", r.val.accuracy(), r.val.log_loss(),
                static_cast<long long>(r.val.count));
  std::printf("test:       accuracy %.4f  log-loss %.4f  (%lld examples)\n", r.test.accuracy(), r.test.log_loss(),
              static_cast<long long>(r.test.count));
  std::printf("test confusion matrix:\n%s", r.test.confusion_text().c_str());
  std::printf("from the loaded data to the test figures: %.1f s (compile %.1f s, training %.1f s, evaluation %.1f s)\n",
              r.to_test_seconds, r.compile_ms / 1e3, r.seconds, r.eval_seconds);
}

// Where the command's time and files went: the whole command's wall time in parts, the report
// page and the checkpoint folder (or that there is none).
void print_where(const TrainConfig& c, const TrainResult& r, const std::string& report, double whole_s,
                 double report_s) {
  const double compile_s = r.compile_ms / 1e3;
  const double other = whole_s - r.load_seconds - compile_s - r.seconds - r.eval_seconds - report_s;
  char report_part[48] = "";
  if (!report.empty()) std::snprintf(report_part, sizeof report_part, ", report %.1f s", report_s);
  std::printf(
      "\nwhole command: %.1f s (data %.1f s, compile %.1f s, training %.1f s, evaluation %.1f s%s, other %.1f s)\n",
      whole_s, r.load_seconds, compile_s, r.seconds, r.eval_seconds, report_part, std::max(0.0, other));
  if (!report.empty()) std::printf("report: %s/index.html\n", report.c_str());
  if (c.checkpoint_dir.empty())
    std::printf("checkpoints: none (--checkpoint-dir DIR keeps them)\n");
  else
    std::printf("checkpoints: %s (last.safetensors, final.safetensors%s)\n", c.checkpoint_dir.c_str(),
                c.keep_best ? ", best.safetensors" : "");
}

// The one-vs-all model's comparison: softmax regression (the linear model) trained on the same
// data with the same steps, recipe and seed, quietly, nothing saved.
Baseline softmax_baseline(const TrainConfig& ova) {
  TrainConfig c = ova;
  c.model = "linear";
  c.arch = find_model("linear").arch;
  c.verbose = false;
  c.callbacks.clear();
  c.checkpoint_dir.clear();
  c.resume_dir.clear();
  c.csv_log.clear();
  c.keep_last = 0;
  c.metadata.clear();
  return {"softmax", "softmax regression (linear), the same data, steps and recipe", train(c).test};
}

// Every flag is honoured or refused: the logic model takes only a few; --gate only it;
// --weights-at only with --report.
void refuse_unused(const CLI::App& cmd, const std::string& model, bool report) {
  static const std::set<std::string> logic = {"model",    "--lr",   "--steps", "--seed",
                                              "--engine", "--gate", "--help",  "--target"};
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() == 0) continue;
    const std::string name = opt->get_name();
    if (model == "logic" && !logic.count(name))
      throw UsageError("gradc: train logic: " + name +
                       " does not apply to the logic model (it takes --lr, --steps, --seed, --engine, --gate)");
    if (model != "logic" && name == "--gate") throw UsageError("gradc: --gate applies only to 'train logic'");
    if (name == "--weights-at" && !report) throw UsageError("gradc: --weights-at needs --report DIR");
    if (name == "--report-every" && !report) throw UsageError("gradc: --report-every needs --report DIR");
  }
}

void run_logic(const TrainFlags& f) {
  const float lr = f.lr.value_or(200.f);
  const int steps = static_cast<int>(f.steps.value_or(401));
  bool all_exact = true;
  for (const std::string gate : {"and", "or"}) {
    if (f.gate != "both" && f.gate != gate) continue;
    LogicResult r = train_logic(gate, lr, steps, f.seed.value_or(42), f.engine == "reference" ? 1 : 0);
    std::printf("%s gate after %d steps (lr %g): loss %.6f, weights w1=%.4f w2=%.4f bias=%.4f\n", gate.c_str(), steps,
                static_cast<double>(lr), static_cast<double>(r.final_loss), static_cast<double>(r.weights[0]),
                static_cast<double>(r.weights[1]), static_cast<double>(r.weights[2]));
    const char* rows[] = {"0 0", "0 1", "1 0", "1 1"};
    for (size_t i = 0; i < 4; ++i)
      std::printf("  %s -> %.4f (%d, expected %d)\n", rows[i], static_cast<double>(r.outputs[i]),
                  r.outputs[i] > 0.5f ? 1 : 0, r.expected[i]);
    all_exact &= r.exact;
  }
  if (!all_exact) throw std::runtime_error("gradc: the neuron did not learn the exact truth table");
  std::printf("truth tables reproduced exactly\n");
}
}  // namespace

void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model on MNIST (defaults: the tutorial's recipe for MODEL)");
  cmd->footer("Each model's recipe (the defaults of these flags): gradc models");
  add_model_positional(cmd, f->model, "Model name (" + model_names() + ", any letter case)")->required();
  cmd->add_option("--preset", f->preset, "Alternative recipe (dnn: tuned)");
  cmd->add_option("--loss-reduction", f->loss_reduction,
                  "Differentiate the batch loss as 'sum' (TF1 estimators) or 'mean'")
      ->check(one_of({"sum", "mean"}));
  cmd->add_option("--batch", f->batch, "Batch size")->check(int_range(1, 1000000000));
  cmd->add_option("--steps", f->steps, "Training steps (overrides --epochs)")->check(int_range(1, 1000000000));
  cmd->add_option("--epochs", f->epochs, "Training epochs")->check(int_range(1, 1000000000));
  cmd->add_option("--periods", f->periods, "Evaluation points when training by steps")->check(int_range(1, 1000000000));
  cmd->add_option("--optimizer", f->optimizer, "sgd | momentum | adagrad | rmsprop | adam");
  cmd->add_option("--lr", f->lr, "Learning rate")->check(finite_float(0, 1e6, Bound::Open));
  cmd->add_option("--clip", f->clip, "Clip gradients to this global norm (0 = off)")->check(finite_float(0, 1e30));
  cmd->add_option("--l2", f->l2, "L2 penalty on weight matrices")->check(finite_float(0, 1e30));
  cmd->add_option("--ema", f->ema, "Decay of the weights' moving average used for evaluation (0 = off)")
      ->check(finite_float(0, 0.99999));
  cmd->add_option("--momentum", f->momentum, "Momentum coefficient")->check(finite_float(0, 1));
  cmd->add_option("--schedule", f->schedule, "constant | exponential | per-epoch | one-cycle");
  cmd->add_option("--warmup", f->warmup, "One-cycle schedule: fraction of the run over which the rate rises (0.2)")
      ->check(finite_float(0, 1));
  cmd->add_option("--decay-rate", f->decay_rate, "Schedule decay factor")->check(finite_float(0, 1e30, Bound::Open));
  cmd->add_option("--decay-steps", f->decay_steps, "Exponential schedule: steps per decay")
      ->check(int_range(1, 1000000000));
  cmd->add_flag("--staircase", f->staircase, "Exponential schedule: decay in discrete steps");
  cmd->add_option("--seed", f->seed, "Random seed (weights, shuffling, dropout)")->check(unsigned64());
  cmd->add_option("--threads", f->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
      ->check(int_range(1, max_threads()));
  cmd->add_option("--engine", f->engine, "jit (default) | reference")->check(one_of({"jit", "reference"}));
  cmd->add_option("--dataset", f->dataset,
                  "mnist (default) | fashion-mnist | csv:TRAIN.csv[,TEST.csv] (label + 784 pixels per row)");
  cmd->add_option("--data", f->data,
                  "Data directory holding mnist/ and fashion-mnist/ (default $GRADC_DATA or ./data)");
  cmd->add_option("--first-n", f->first_n, "Use only the first N training images")->check(int_range(1, 1000000000));
  cmd->add_option("--train-n", f->train_n, "Training examples (from the front)")->check(int_range(1, 1000000000));
  cmd->add_option("--val-n", f->val_n, "Validation examples (after the training ones)")
      ->check(int_range(1, 1000000000));
  cmd->add_option("--val-fraction", f->val_fraction, "Use the last fraction as validation")
      ->check(finite_float(0, 0.9));
  cmd->add_option("--test-n", f->test_n, "Evaluate on the first N test images")->check(int_range(1, 1000000000));
  cmd->add_option("--checkpoint-dir", f->checkpoint_dir, "Write last/best/final .safetensors here");
  cmd->add_option("--checkpoint-every", f->checkpoint_every, "Checkpoint every N steps")
      ->check(int_range(1, 1000000000));
  cmd->add_option("--keep-last", f->keep_last,
                  "Also write ckpt-STEP.safetensors at each checkpoint and keep the newest N of them")
      ->check(int_range(1, 1000000));
  cmd->add_flag("--keep-best", f->keep_best, "Keep the weights of the lowest validation loss");
  cmd->add_flag("--no-keep-best", f->no_keep_best, "Keep the last weights even if the recipe keeps the best");
  cmd->add_flag("--early-stop", f->early_stop, "Stop when --monitor stops improving (default: training accuracy)");
  cmd->add_option("--monitor", f->monitor, "Metric of --early-stop and --reduce-lr-on-plateau (default acc)")
      ->check(one_of({"loss", "acc", "val_loss", "val_acc"}));
  cmd->add_option("--patience", f->patience, "Evaluation points without improvement before acting (default 1)")
      ->check(int_range(0, 1000000));
  cmd->add_option("--reduce-lr-on-plateau", f->plateau, "Multiply the learning rate by this factor on a plateau")
      ->check(finite_float(0, 1, Bound::Open) & finite_float(0, 0.999999));
  cmd->add_option("--csv-log", f->csv_log, "Also append every evaluation point to this CSV file");
  cmd->add_flag("--check-numerics", f->check_numerics, "On NaN/Inf, name the op that produced it");
  cmd->add_flag("--quiet", f->quiet,
                "Print only the test result line (no progress, no callbacks' messages); warnings and errors still go "
                "to stderr");
  cmd->add_option("--resume", f->resume, "Continue from DIR/last.safetensors, bit-identically");
  cmd->add_flag("--allow-recipe-change", f->allow_recipe_change,
                "With --resume: accept a checkpoint trained with another seed, batch, optimizer or lr recipe");
  cmd->add_option("--report", f->report, "Write metrics.csv, charts and index.html into this directory");
  cmd->add_option("--report-every", f->report_every,
                  "With --report: rewrite the curves and index.html during training at an evaluation point at least "
                  "this many seconds after the last (0: at every point)")
      ->check(finite_float(0, 1e9))
      ->capture_default_str();
  cmd->add_option("--weights-at", f->weights_at,
                  "With --report: also save the first-layer weight grid at these steps (e.g. 10,100,1000)");
  f->compile.add(cmd);
  f->arch.add(cmd);
  cmd->add_option("--gate", f->gate, "logic: and | or | both")->check(one_of({"and", "or", "both"}));
  cmd->callback([f, cmd] {
    refuse_unused(*cmd, f->model, !f->report.empty());
    if (f->model == "logic") return run_logic(*f);
    TrainConfig c = recipe(f->model, f->preset);
    c.arch = f->arch.resolve(f->model);
    if (!f->monitor.empty()) c.monitor = f->monitor;
    set_if(f->patience, c.patience);
    set_if(f->plateau, c.plateau_factor);
    c.csv_log = f->csv_log;
    if (!c.csv_log.empty()) check_output_file(c.csv_log, "--csv-log");  // before the first step, not after
    set_if(f->batch, c.batch);
    if (!f->loss_reduction.empty()) c.sum_loss = f->loss_reduction == "sum";
    if (f->steps) c.steps = *f->steps, c.epochs = 0;
    if (f->epochs) c.epochs = *f->epochs, c.steps = f->steps.value_or(0);
    set_if(f->periods, c.periods);
    if (!f->optimizer.empty()) c.opt.kind = parse_optimizer(f->optimizer);
    set_if(f->lr, c.lr);
    set_if(f->clip, c.opt.clip_norm);
    set_if(f->l2, c.opt.l2);
    set_if(f->ema, c.opt.ema_decay);
    set_if(f->momentum, c.opt.momentum);
    if (!f->schedule.empty()) c.schedule.kind = parse_schedule(f->schedule);
    set_if(f->decay_rate, c.schedule.rate);
    set_if(f->warmup, c.schedule.warmup);
    set_if(f->decay_steps, c.schedule.decay_steps);
    if (f->staircase) c.schedule.staircase = true;
    set_if(f->seed, c.seed);
    set_if(f->threads, c.threads);
    if (!f->engine.empty()) c.engine = parse_engine(f->engine);
    if (!f->dataset.empty()) c.dataset = f->dataset;
    c.data_dir = f->data;
    set_if(f->first_n, c.first_n);
    if (f->train_n) c.train_n = *f->train_n, c.val_fraction = 0;
    set_if(f->val_n, c.val_n);
    if (f->val_fraction) c.val_fraction = *f->val_fraction, c.train_n = 0;
    set_if(f->test_n, c.test_n);
    if (!f->checkpoint_dir.empty()) c.checkpoint_dir = f->checkpoint_dir;
    set_if(f->checkpoint_every, c.checkpoint_every);
    set_if(f->keep_last, c.keep_last);
    if (f->keep_last && f->checkpoint_dir.empty() && f->resume.empty())
      throw UsageError("gradc: --keep-last needs --checkpoint-dir (or --resume DIR)");
    if (f->keep_best) c.keep_best = true;
    if (f->no_keep_best) c.keep_best = false;
    if (f->early_stop) c.early_stop = true;
    c.check_numerics = f->check_numerics;
    c.fuse = !f->compile.no_fuse;
    c.bf16 = f->compile.precision == "bf16";
    c.passes = f->compile.options().passes;
    c.resume_dir = f->resume;
    c.allow_recipe_change = f->allow_recipe_change;
    if (f->quiet) c.verbose = false;
    // Ctrl-C / SIGTERM: stop after the step, then checkpoint and report as at the end (one process;
    // under mpirun the ranks end together through MPI instead).
    if (!world_is_distributed()) c.interrupt = install_stop_signals();
    std::shared_ptr<Report> report;
    c.keep_test_logits = !f->report.empty();
    if (!f->report.empty()) {
      report = std::make_shared<Report>(f->report, report_run(c, command_line(), local_time_text()),
                                        parse_int_list(f->weights_at, "--weights-at", 1), f->report_every);
      c.callbacks.push_back(report);
    }
    const auto t_start = std::chrono::steady_clock::now();
    TrainResult r = train(c);
    std::vector<Baseline> baselines;
    if (c.model == "ova") baselines.push_back(softmax_baseline(c));
    if (world().rank() != 0) return;  // data-parallel: rank 0 reports for the run
    if (f->quiet) {
      std::printf("%s: test accuracy %.4f  log-loss %.4f  (%lld examples)\n", c.model.c_str(), r.test.accuracy(),
                  r.test.log_loss(), static_cast<long long>(r.test.count));
      for (const Baseline& b : baselines) std::printf("%s: test accuracy %.4f\n", b.what.c_str(), b.test.accuracy());
    } else {
      print_result(c, r);
    }
    for (const Baseline& b : f->quiet ? std::vector<Baseline>{} : baselines)
      std::printf("\n%s: test accuracy %.4f (one-vs-all: %.4f)\n%s", b.what.c_str(), b.test.accuracy(),
                  r.test.accuracy(), b.test.confusion_text().c_str());
    double report_s = 0;
    if (report) {
      if (!f->quiet) std::printf("\nwriting the report (charts through gnuplot) into %s ...\n", f->report.c_str());
      std::fflush(stdout);
      const auto t_report = std::chrono::steady_clock::now();
      const Splits s = load_splits(c, c.seed);  // the split train() used: its labels and digits
      ReportResult rr = report_result(r, s.train);
      rr.test_set = &s.test;
      rr.test_logits = std::move(r.test_logits);  // for the most confident mistakes
      rr.one_vs_all = c.model == "ova";
      if (c.engine == EngineKind::Jit && world().size() == 1 && default_target().runnable)
        rr.step_time = profile_step(c, f->report);
      rr.command_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      rr.baselines = baselines;
      report->finish(rr);
      report_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_report).count();
    }
    if (!f->quiet)
      print_where(c, r, f->report, std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(),
                  report_s);
    if (r.interrupted) {
      std::fprintf(stderr, "gradc: %s: stopped after step %lld; %s%s\n", signal_name(r.interrupted),
                   static_cast<long long>(r.steps),
                   c.checkpoint_dir.empty() ? "no checkpoint (no --checkpoint-dir)"
                                            : ("checkpoint " + c.checkpoint_dir + "/last.safetensors").c_str(),
                   report ? (", report " + f->report + "/index.html").c_str() : "");
      throw ExitStatus{128 + r.interrupted};
    }
  });
}

}  // namespace gradc::cli
