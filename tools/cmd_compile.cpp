// gradc compile MODEL: JIT-compile the training step and show/dump what was generated.
#include <algorithm>
#include <fstream>

#include "autodiff/dot.h"
#include "autodiff/graph_text.h"
#include "compiler/jit.h"
#include "compiler/pipeline.h"
#include "runtime/files.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/step_graph.h"

namespace gradc::cli {

namespace {
// --dump-after PASS|all --dump-dir DIR: the graph after each chosen pass as NN-PASS.txt and .dot.
void dump_passes(const Graph& g, const CompileOptions& opt, const std::string& after, const std::string& dir) {
  if (dir.empty()) throw UsageError("gradc: --dump-after needs --dump-dir DIR");
  const PassPipeline pipeline = pipeline_for(opt);
  if (after != "all" && !pipeline.contains(after))
    throw UsageError("gradc: --dump-after " + after + ": not a pass of this pipeline (" + pipeline.describe() +
                     "), or 'all'");
  make_dirs(dir, "--dump-dir");
  int written = 0;
  PipelineOptions po;
  po.after_pass = [&](const PassRun& r, int index, const Graph& cur) {
    if (after != "all" && r.name != after) return;
    const std::string base = dir + "/" + (index < 10 ? "0" : "") + std::to_string(index) + "-" + r.name;
    write_file(base + ".txt", graph_text(cur));
    write_file(base + ".dot", to_dot(cur));
    ++written;
  };
  pipeline.run(g, opt.target ? *opt.target : default_target(), po);
  std::printf("wrote %d graph dumps (text + .dot) to %s\n", written, dir.c_str());
}

void print_pass_times(const CompiledProgram& p) {
  std::printf("%-4s %-22s %9s %7s %s\n", "#", "pass", "ms", "nodes", "changed");
  double total = 0;
  for (size_t i = 0; i < p.pass_log.size(); ++i) {
    const PassRun& r = p.pass_log[i];
    total += r.ms;
    std::printf("%-4zu %-22s %9.3f %7zu %s\n", i, r.name.c_str(), r.ms, r.nodes, r.changed ? "yes" : "no");
  }
  std::printf("passes took %.2f ms in all (the verifier's time not counted)\n", total);
}
}  // namespace

void add_compile(CLI::App& app) {
  struct Opts {
    ArchFlags arch;
    std::string model, ir, assembly, dump_after, dump_dir, optimizer = "sgd";
    int64_t batch = 0;
    float clip = 0.f;
    int repeat = 0, ranks = 1;
    bool schedule = false, time_passes = false;
    CompileFlags flags;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("compile", "JIT-compile a model's training step; list kernels, dump IR/assembly");
  add_model_positional(cmd, o->model, "Model name (" + model_names() + ", any letter case)")->required();
  o->arch.add(cmd);
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(int_range(1, 1000000000));
  cmd->add_option("--dump-ir", o->ir, "Write the optimised LLVM IR here");
  o->flags.add(cmd);
  add_ranks_flag(cmd, o->ranks);
  cmd->add_option("--repeat", o->repeat, "Also time N more compilations (batch+1, batch+2, ...: no cache hits)")
      ->check(int_range(0, 1000000000));
  cmd->add_option("--dump-asm", o->assembly, "Write the generated x86-64 assembly here");
  cmd->add_option("--dump-after", o->dump_after,
                  "Write the graph (text and .dot) after this pass, or after every pass with 'all' (needs --dump-dir)");
  cmd->add_option("--dump-dir", o->dump_dir, "Where --dump-after writes NN-PASS.txt and NN-PASS.dot");
  cmd->add_option("--optimizer", o->optimizer, "The step's update rule: sgd | momentum | adagrad | rmsprop | adam")
      ->check(optimizer_kind());
  cmd->add_option("--clip", o->clip, "Clip gradients to this global norm first (0 = off)")
      ->check(finite_float(0, 1e30));
  cmd->add_flag("--time-passes", o->time_passes, "Print each pass's time, node count and whether it changed the graph");
  cmd->add_flag("--schedule", o->schedule,
                "Print each kernel's schedule: strategy, lanes, register tile, blocking, packing, scratch");
  cmd->callback([o] {
    const Arch arch = o->arch.resolve(o->model);
    const int64_t batch = o->batch ? o->batch : find_model(o->model).default_batch;
    OptimizerConfig step_opt;
    step_opt.ranks = o->ranks;
    step_opt.kind = parse_optimizer(o->optimizer);
    step_opt.clip_norm = o->clip;
    StepGraph s = make_step_graph(o->model, local_batch(batch, o->ranks), step_opt, &arch);
    if (!o->ir.empty()) check_output_file(o->ir, "--dump-ir");
    if (!o->assembly.empty()) check_output_file(o->assembly, "--dump-asm");
    CompileOptions opt = o->flags.options();
    if (!o->dump_after.empty()) dump_passes(s.model->g, opt, o->dump_after, o->dump_dir);
    opt.keep_ir = !o->ir.empty();
    opt.keep_asm = !o->assembly.empty();
    auto p = compile(s.model->g, opt);
    std::printf(
        "%s training step (%s), batch %lld%s: %zu graph nodes -> %zu after passes -> %zu kernels, %.1f KiB of "
        "buffers (%.1f KiB without memory planning)\n",
        o->model.c_str(), optimizer_label(o->optimizer, o->clip).c_str(), static_cast<long long>(batch),
        o->ranks > 1
            ? (" (" + std::to_string(batch / o->ranks) + " per rank of " + std::to_string(o->ranks) + ")").c_str()
            : "",
        s.model->g.size(), p->graph.size(), p->plan.kernels.size(), static_cast<double>(p->plan.arena_bytes) / 1024.0,
        static_cast<double>(p->plan.unplanned_bytes) / 1024.0);
    std::printf("target: %s\n", p->target.describe().c_str());
    if (p->from_code_cache)
      std::printf(
          "compiled for %s in %.1f ms: passes and plan, machine code from the code cache (--no-cache "
          "recompiles)\n",
          p->target.cpu.c_str(), p->compile_ms);
    else
      std::printf("compiled for %s in %.1f ms (IR emission %.1f + O3 %.1f + machine code %.1f)\n",
                  p->target.cpu.c_str(), p->compile_ms, p->emit_ms, p->opt_ms, p->codegen_ms);
    const auto barriers = std::count_if(p->plan.kernels.begin(), p->plan.kernels.end(),
                                        [](const KernelInfo& k) { return k.barrier_before; });
    std::printf("thread barriers per step: %lld (kernels independent of their predecessor skip the barrier)\n",
                static_cast<long long>(barriers));
    std::printf("passes: %s (%zu runs)\n", pipeline_for(opt).describe().c_str(), p->pass_log.size());
    if (o->time_passes) print_pass_times(*p);
    std::printf("%-28s %10s %14s  %s\n", "kernel", "range", "MFLOP", "fused nodes");
    for (const KernelInfo& k : p->plan.kernels) {
      std::string fused = k.host ? "bucket " + std::to_string(p->graph.node(k.node).a.bucket) + ", " +
                                       std::to_string(p->graph.node(k.node).shape.numel() * 4) + " bytes (MPI) "
                                 : "";
      for (int f : k.fused) fused += std::string(op_name(p->graph.node(f).op)) + " ";
      if (k.norm_out >= 0) fused += "+ sum of squares (node " + std::to_string(k.norm_out) + ") ";
      if (k.colsum_out >= 0) fused += "+ column sums of B (node " + std::to_string(k.colsum_out) + ") ";
      if (k.fold_parts > 0) fused += "adds a GEMM's " + std::to_string(k.fold_parts) + " partial sums of squares";
      std::printf("%-28s %10lld %14.3f  %s\n", k.fn.c_str(), static_cast<long long>(k.range), k.flops / 1e6,
                  fused.c_str());
      if (o->schedule) std::printf("    schedule: %s\n", k.spec.describe().c_str());
    }
    for (int r = 1; r <= o->repeat; ++r) {
      StepGraph s2 = make_step_graph(o->model, batch + r, {}, &arch);
      auto p2 = compile(s2.model->g, o->flags.options());
      std::printf("recompile at batch %lld: %.1f ms (IR %.1f + O3 %.1f + machine code %.1f)\n",
                  static_cast<long long>(batch + r), p2->compile_ms, p2->emit_ms, p2->opt_ms, p2->codegen_ms);
    }
    auto write = [](const std::string& path, const std::string& text) {
      write_file(path, text);
      std::printf("wrote %s (%zu bytes)\n", path.c_str(), text.size());
    };
    if (!o->ir.empty()) write(o->ir, p->ir);
    if (!o->assembly.empty()) write(o->assembly, p->assembly);
  });
}

}  // namespace gradc::cli
