// gradc bench MODEL: median time per training step (forward + backward + SGD update) on the
// reference interpreter and on the JIT with 1 and 2 threads, side by side in one run.
#include <algorithm>
#include <filesystem>

#include "autodiff/dsl.h"
#include "autodiff/shape_rules.h"
#include "compiler/plan.h"
#include "runtime/comm.h"
#include "runtime/engine.h"
#include "runtime/files.h"
#include "runtime/program.h"
#include "tools/bench_conv.h"
#include "tools/bench_gemm.h"
#include "tools/bench_mpi.h"
#include "tools/bench_steps.h"
#include "tools/bench_torch.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/gnuplot.h"
#include "tools/peak.h"
#include "tools/step_graph.h"

namespace gradc::cli {

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

namespace {
// --predict: the inference graph gradc export compiles (logits only, no loss), on the JIT at 1 and
// 2 threads: µs per call and per example, to set beside an exported object's time_predict figures.
void predict_table(const std::string& model, int64_t batch, const Arch& arch, int reps, const CompileOptions& co) {
  auto m = build_model(model, {.batch = batch, .training = false}, arch);
  m->g.outputs() = {m->logits.id};
  auto e = make_engine(m->g, EngineKind::Jit, co);
  fill_inputs(m->g, *e);
  std::printf("%s inference, batch %lld, JIT (%s):\n", model.c_str(), static_cast<long long>(batch),
              default_target().name.c_str());
  for (int t = 1; t <= 2; ++t) {
    e->set_threads(t);
    const double us = median_us(*e, reps, 5.0);
    std::printf("  %d thread%s: %.2f us per call, %.3f us per example\n", t, t > 1 ? "s" : " ", us,
                us / static_cast<double>(batch));
  }
}

struct FusionRow {
  std::string model;
  int64_t batch;
  size_t kernels_fused, kernels_unfused;
  int64_t bytes_fused, bytes_unfused;
  double fused[2], unfused[2];  // µs at 1 and 2 threads
  TorchStep torch;              // PyTorch eager on the same step (us = 0: not measured, see torch.error)
  double best() const { return std::min(fused[0], fused[1]); }
};

FusionRow compare_fusion(const std::string& model, int64_t batch, int reps, const CompileOptions& fused,
                         const OptimizerConfig& step_opt) {
  StepGraph s = make_step_graph(model, batch, step_opt);
  const Graph& g = s.model->g;
  CompileOptions unfused;
  unfused.fuse = false;
  auto ef = make_engine(g, EngineKind::Jit, fused);
  auto eu = make_engine(g, EngineKind::Jit, unfused);
  fill_inputs(g, *ef);
  fill_inputs(g, *eu);
  FusionRow r{model, batch, 0, 0, 0, 0, {0, 0}, {0, 0}, {}};
  auto pf = compile(g, fused), pu = compile(g, unfused);
  r.kernels_fused = pf->plan.kernels.size();
  r.kernels_unfused = pu->plan.kernels.size();
  r.bytes_fused = plan_traffic_bytes(pf->graph, pf->plan);
  r.bytes_unfused = plan_traffic_bytes(pu->graph, pu->plan);
  for (int t = 1; t <= 2; ++t) {
    ef->set_threads(t);
    eu->set_threads(t);
    // Interleave the two so drifting machine load affects both alike.
    double f = 1e30, u = 1e30;
    for (int round = 0; round < 3; ++round) {
      f = std::min(f, median_us(*ef, reps, 4));
      u = std::min(u, median_us(*eu, reps, 4));
    }
    r.fused[t - 1] = f;
    r.unfused[t - 1] = u;
  }
  return r;
}
}  // namespace

namespace {
void kernel_table(const std::string& model, int64_t batch, int reps, const std::string& report,
                  const CompileOptions& opt, const Arch& arch, const OptimizerConfig& step_opt) {
  StepGraph s = make_step_graph(model, batch, step_opt, &arch);
  Program p(s.model->g, opt);
  fill_inputs(p);
  const double peak1 = target_fma_peak(1), peak2 = target_fma_peak(2);
  const Blas* blas = openblas();
  p.set_threads(1);
  const std::vector<double> t1 = p.profile_kernels(reps), s1 = p.profile_in_step(reps);
  p.set_threads(2);
  const std::vector<double> t2 = p.profile_kernels(reps), s2 = p.profile_in_step(reps);
  const Graph& g = p.code().graph;
  std::printf("%s\n", target_line().c_str());
  if (opt.bf16)
    std::printf("--precision bf16: measured vdpbf16ps peak %.1f GFLOP/s (1 thread), %.1f (2 threads)\n",
                measure_bf16_peak(1), measure_bf16_peak(2));
  std::printf(
      "%s step, batch %lld: measured FMA peak %.1f GFLOP/s (1 thread), %.1f (2 threads)%s\n", model.c_str(),
      static_cast<long long>(batch), peak1, peak2,
      (blas ? "; OpenBLAS = cblas_sgemm alone, best of 1/2 threads (" + blas->kernels + ")" : "; " + openblas_note())
          .c_str());
  std::printf("%-26s %-16s %9s %8s %6s %9s %8s %6s %9s %9s %10s %8s\n", "kernel", "M×N×K", "µs 1t", "GFLOP/s", "%peak",
              "µs 2t", "GFLOP/s", "%peak", "step 1t", "step 2t", "BLAS µs", "GFLOP/s");
  double total1 = 0, total2 = 0, step1 = 0, step2 = 0;
  std::FILE* csv = report.empty()
                       ? nullptr
                       : open_report_csv(report, "kernels.csv",
                                         "kernel,us_1t,gflops_1t,us_2t,gflops_2t,blas_us,step_us_1t,step_us_2t");
  for (size_t k = 0; k < t1.size(); ++k) {
    const KernelInfo& ki = p.code().plan.kernels[k];
    total1 += t1[k];
    total2 += t2[k];
    step1 += s1[k];
    step2 += s2[k];
    const Node& kn = g.node(ki.node);
    // col2im with the GEMM of its columns fused, or an elementwise chain in a GEMM's epilogue: that
    // GEMM's shape (and OpenBLAS on it alone).
    const bool col2im_gemm = ki.copy_from < 0 && kn.op == Op::Col2Im && is_gemm(ki.spec.strategy);
    const int product = ki.copy_from < 0 ? epilogue_gemm(g, kn, ki.fused) : -1;
    const Node& n = col2im_gemm ? g.node(kn.in[0]) : product >= 0 ? g.node(product) : kn;
    std::string shape = "";
    double bl = 0;
    if (ki.copy_from < 0 && op_info(n.op).kind == OpKind::Gemm) {
      const auto [M, N, K] = gemm_dims(g, n);  // matmul_split_k: the whole product, as BLAS computes it
      shape = std::to_string(M) + "×" + std::to_string(N) + "×" + std::to_string(K);
      if (blas)
        bl = std::min(blas_sgemm_us(*blas, M, N, K, n.a.ta, n.a.tb, 1, reps),
                      blas_sgemm_us(*blas, M, N, K, n.a.ta, n.a.tb, 2, reps));
    }
    const double gf1 = ki.flops / t1[k] / 1e3, gf2 = ki.flops / t2[k] / 1e3;
    std::printf("%-26s %-16s %9.2f %8.1f %5.0f%% %9.2f %8.1f %5.0f%% %9.2f %9.2f", ki.fn.c_str(), shape.c_str(), t1[k],
                gf1, 100 * gf1 / peak1, t2[k], gf2, 100 * gf2 / peak2, s1[k], s2[k]);
    if (bl > 0) std::printf(" %10.2f %8.1f", bl, ki.flops / bl / 1e3);
    std::printf("\n");
    if (csv)  // no BLAS figure (not a GEMM, or no OpenBLAS): an empty field, not 0
      std::fprintf(csv, "%s,%.3f,%.2f,%.3f,%.2f,%s,%.3f,%.3f\n", ki.fn.c_str(), t1[k], gf1, t2[k], gf2,
                   bl > 0 ? fmt("%.3f", bl).c_str() : "", s1[k], s2[k]);
  }
  if (csv) {
    std::fclose(csv);
    run_gnuplot(
        report,
        "set terminal pngcairo size 1100,600 font 'Sans,10'\nset output 'kernels.png'\n"
        "set title 'per-kernel GFLOP/s, " +
            model + " batch " + std::to_string(batch) + ", " + target_short() +
            " (dashed: measured FMA peak, 1 thread)'\nset style data histograms\n"
            "set style histogram clustered gap 1\nset style fill solid 0.85\nset xtics rotate by -45 font ',8'\n"
            "set ylabel 'GFLOP/s'\nset key top right\nset yrange [0:*]\n"
            "set termoption noenhanced\n"
            "plot 'kernels.csv' every ::1 using 3:xtic(1) title '1 thread', '' every ::1 using 5 title '2 threads', " +
            std::to_string(peak1) + " with lines dt 2 lw 2 lc rgb 'black' title 'FMA peak (1 thread)'\n",
        {data_file(report, "kernels.csv")});
    std::printf("wrote %s/kernels.csv and kernels.png\n", report.c_str());
  }
  std::printf("sum of kernel medians: %.1f µs (1 thread), %.1f µs (2 threads)\n", total1, total2);
  std::printf(
      "step 1t/2t = the kernel inside whole steps (a barrier after every kernel: operands where the step left "
      "them, not warm from its own last call); sum %.1f µs (1 thread), %.1f µs (2 threads)\n",
      step1, step2);
}
struct BenchOpts {
  std::string model;
  int64_t batch = 0;
  int reps = 200;
  bool json = false, no_reference = false, compare_fusion = false, kernels = false, no_torch = false, convs = false,
       predict = false;
  bool mpi_worker = false;
  int ranks = 2;
  std::string bucket_kib = "1024";
  std::string report, shape, optimizer = "sgd";
  float clip = 0.f;
  CompileFlags flags;  // the 'fused' side of --compare-fusion, and the plain JIT runs
  // The step's update rule (--optimizer): plain SGD unless asked, as the PyTorch side runs.
  OptimizerConfig step_opt() const {
    OptimizerConfig c;
    c.kind = parse_optimizer(optimizer);
    c.clip_norm = clip;
    return c;
  }
  std::string update() const { return optimizer_label(optimizer, clip); }
  ArchFlags arch;  // mlp/cnn layer shapes (plain and --kernels runs)
};

std::string us_or_empty(double us) { return us > 0 ? fmt("%.2f", us) : ""; }

// fusion.csv (µs and the speed-ups; a PyTorch column left empty where it was not measured),
// fusion.png (the speed-up unfused/fused per configuration and thread count, each bar labelled with
// its value, a line at 1 = no gain) and fusion.html (the chart above the µs table).
void fusion_report(const std::string& dir, const std::vector<FusionRow>& rows) {
  std::FILE* csv = open_report_csv(dir, "fusion.csv",
                                   "config,fused_1t_us,unfused_1t_us,fused_2t_us,unfused_2t_us,kernels_fused,"
                                   "kernels_unfused,pytorch_us,speedup_1t,speedup_2t");
  std::string table;
  for (const FusionRow& r : rows) {
    const std::string cfg = r.model + " b" + std::to_string(r.batch);
    std::fprintf(csv, "%s,%.2f,%.2f,%.2f,%.2f,%zu,%zu,%s,%.3f,%.3f\n", cfg.c_str(), r.fused[0], r.unfused[0],
                 r.fused[1], r.unfused[1], r.kernels_fused, r.kernels_unfused, us_or_empty(r.torch.us).c_str(),
                 r.unfused[0] / r.fused[0], r.unfused[1] / r.fused[1]);
    table += "<tr><td>" + cfg + "</td><td>" + fmt("%.1f", r.fused[0]) + "</td><td>" + fmt("%.1f", r.unfused[0]) +
             "</td><td>" + fmt("%.2f×", r.unfused[0] / r.fused[0]) + "</td><td>" + fmt("%.1f", r.fused[1]) +
             "</td><td>" + fmt("%.1f", r.unfused[1]) + "</td><td>" + fmt("%.2f×", r.unfused[1] / r.fused[1]) +
             "</td><td>" + std::to_string(r.kernels_fused) + " / " + std::to_string(r.kernels_unfused) + "</td><td>" +
             (r.torch.us > 0 ? fmt("%.1f", r.torch.us) : "") + "</td></tr>\n";
  }
  std::fclose(csv);
  run_gnuplot(
      dir,
      "set terminal pngcairo size 1000,600 font 'Sans,10'\nset output 'fusion.png'\n"
      "set title 'fusion speed-up per training step: unfused time / fused time (" +
          target_short() +
          ")'\n"
          "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85\n"
          "set ylabel 'speed-up (x)'\nset yrange [0:*]\nset offsets 0, 0, graph 0.1, 0\nset key below horizontal\n"
          "set termoption noenhanced\n"
          "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black'\n"
          "plot 'fusion.csv' every ::1 using 9:xtic(1) title '1 thread' lc rgb '#4c72b0', "
          "'' every ::1 using 10 title '2 threads' lc rgb '#dd8452', "
          "'' every ::1 using ($0-0.17):9:(sprintf('%.2fx', $9)) with labels offset 0,0.8 notitle, "
          "'' every ::1 using ($0+0.17):10:(sprintf('%.2fx', $10)) with labels offset 0,0.8 notitle\n",
      {data_file(dir, "fusion.csv")});
  write_file(dir + "/fusion.html",
             "<!doctype html><html><head><meta charset=\"utf-8\"><title>gradc fusion benchmark</title>"
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid "
             "#ccc;padding:4px 8px;text-align:right}img{max-width:100%}</style></head><body>"
             "<h1>Fused vs unfused training steps</h1><p>" +
                 default_target().describe() +
                 "</p><img src=\"fusion.png\" alt=\"speed-up chart\"><h2>Median µs per step</h2><table><tr>"
                 "<th>model</th><th>fused 1t</th><th>unfused 1t</th><th>speed-up</th><th>fused 2t</th>"
                 "<th>unfused 2t</th><th>speed-up</th><th>kernels fused / unfused</th><th>PyTorch eager</th></tr>\n" +
                 table + "</table></body></html>\n");
  std::printf("wrote %s/fusion.csv, fusion.png and fusion.html\n", dir.c_str());
}

// --compare-fusion: fused vs unfused per configuration, and PyTorch eager on the same steps.
void fusion_suite(const BenchOpts& o) {
  std::vector<std::pair<std::string, int64_t>> cfgs;
  if (o.model == "suite")
    cfgs = {{"linear", 30}, {"dnn", 30}, {"dnn", 128}, {"mlp512", 128}, {"mlp512", 1024}};
  else
    cfgs = {{o.model, o.batch ? o.batch : find_model(o.model).default_batch}};
  std::vector<FusionRow> rows;
  if (!o.json) {
    std::printf("target: %s\n", default_target().describe().c_str());
    if (const std::string cc = cross_core_line(); !cc.empty())
      std::printf("%s (the 2-thread columns move with these)\n", cc.c_str());
    std::printf("training steps: forward + backward + %s\n", o.update().c_str());
    std::printf("%-8s %6s | %8s %8s | %10s %10s %6s | %10s %10s %6s | %9s %9s | %10s %8s\n", "model", "batch",
                "kernels", "unfused", "fused 1t", "unfused 1t", "ratio", "fused 2t", "unfused 2t", "ratio", "MB fused",
                "unfused", "PyTorch", "speedup");
  }
  std::string torch_note;
  for (auto& [m, b] : cfgs) {
    FusionRow r = compare_fusion(m, b, o.reps, o.flags.options(), o.step_opt());
    if ((o.step_opt().kind != OptKind::SGD || o.clip > 0.f) && !o.no_torch)
      r.torch.error = "no PyTorch column: its step runs plain SGD, this one " + o.update();
    else if (!o.no_torch)
      r.torch = torch_step_us(m, b, o.reps);
    if (!r.torch.error.empty()) torch_note = r.torch.error;
    rows.push_back(r);
    if (!o.json)
      std::printf("%-8s %6lld | %8zu %8zu | %10.1f %10.1f %5.2fx | %10.1f %10.1f %5.2fx | %9.2f %9.2f | %10s %8s\n",
                  m.c_str(), static_cast<long long>(b), r.kernels_fused, r.kernels_unfused, r.fused[0], r.unfused[0],
                  r.unfused[0] / r.fused[0], r.fused[1], r.unfused[1], r.unfused[1] / r.fused[1], r.bytes_fused / 1e6,
                  r.bytes_unfused / 1e6, r.torch.us ? fmt("%.1f", r.torch.us).c_str() : "-",
                  r.torch.us ? fmt("%.2fx", r.torch.us / r.best()).c_str() : "-");
    std::fflush(stdout);
  }
  if (!o.report.empty()) fusion_report(o.report, rows);
  if (o.json) {
    std::printf("[");
    for (size_t i = 0; i < rows.size(); ++i) {
      const FusionRow& r = rows[i];
      std::printf(
          "%s{\"model\": \"%s\", \"batch\": %lld, \"optimizer\": \"%s\", \"clip_norm\": %g, \"kernels_fused\": %zu, "
          "\"kernels_unfused\": %zu, "
          "\"fused_1t_us\": %.2f, \"unfused_1t_us\": %.2f, \"fused_2t_us\": %.2f, \"unfused_2t_us\": %.2f, "
          "\"bytes_fused\": %lld, \"bytes_unfused\": %lld, \"pytorch_us\": %.2f, \"pytorch_config\": \"%s\"}",
          i ? ", " : "", r.model.c_str(), static_cast<long long>(r.batch), o.optimizer.c_str(),
          static_cast<double>(o.clip), r.kernels_fused, r.kernels_unfused, r.fused[0], r.unfused[0], r.fused[1],
          r.unfused[1], static_cast<long long>(r.bytes_fused), static_cast<long long>(r.bytes_unfused), r.torch.us,
          r.torch.config.c_str());
    }
    std::printf("]\n");
  } else {
    std::printf(
        "µs = median per training step (forward + backward + %s); ratio = unfused / fused; MB = compulsory "
        "bytes read + written per step\n",
        o.update().c_str());
    if (!rows.empty() && rows[0].torch.us)
      std::printf(
          "PyTorch %s eager SGD on the same steps, best of torch 1t x OpenBLAS 1t/2t and torch 2t (%s for "
          "the last row); speedup = PyTorch / best gradc\n",
          rows[0].torch.version.c_str(), rows.back().torch.config.c_str());
    else if (o.no_torch)
      std::printf("PyTorch column skipped (--no-torch)\n");
    else
      std::printf("PyTorch column skipped: %s\n", torch_note.c_str());
  }
}
}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOpts>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a training step: reference vs JIT, 1 vs 2 threads");
  add_model_positional(
      cmd, o->model,
      "Model name (" + model_names() +
          "), 'suite' with --compare-fusion, 'gemm': every model GEMM alone vs OpenBLAS, or 'scaling': "
          "data-parallel steps over MPI vs 1 process",
      {"suite", "gemm", "scaling"})
      ->required();
  o->flags.add(cmd);
  o->arch.add(cmd);
  cmd->add_option("--shape", o->shape, "With 'gemm': time the one GEMM MxNxK (e.g. 2048x2048x2048)");
  cmd->add_flag("--compare-fusion", o->compare_fusion,
                "Fused vs unfused step times, kernel counts and bytes moved (model 'suite': linear b30, dnn b30/b128, "
                "mlp512 b128/b1024)");
  cmd->add_option("--batch", o->batch, "Batch size (default: the model's)")->check(int_range(1, 1000000000));
  cmd->add_option("--reps", o->reps, "Timed steps per configuration (median reported)")
      ->check(int_range(1, 1000000000));
  cmd->add_flag("--json", o->json, "Print the figures as JSON");
  cmd->add_option(
      "--report", o->report,
      "With --compare-fusion, --kernels or 'gemm': also write the figures as CSV and a bar chart (PNG) into DIR");
  cmd->add_flag("--kernels", o->kernels,
                "Per-kernel median µs, GFLOP/s and % of the measured FMA peak at 1 and 2 threads, vs OpenBLAS SGEMM");
  cmd->add_flag("--convs", o->convs,
                "Each convolution's forward, input and filter gradient alone at 1 and 2 threads, vs oneDNN's "
                "primitives on the same shapes (when libdnnl-dev was there at build time)");
  cmd->add_flag("--predict", o->predict,
                "Time the inference graph (what gradc export compiles) on the JIT at 1 and 2 threads, per example");
  cmd->add_flag("--no-reference", o->no_reference, "Skip the (slow) reference interpreter");
  cmd->add_flag("--no-torch", o->no_torch, "With --compare-fusion: skip the PyTorch eager baseline");
  cmd->add_option("--optimizer", o->optimizer,
                  "The step's update rule: sgd | momentum | adagrad | rmsprop | adam (default sgd; the PyTorch "
                  "column runs sgd only)")
      ->check(optimizer_kind());
  cmd->add_option("--clip", o->clip,
                  "Clip gradients to this global norm before the update (0 = off; no PyTorch column)")
      ->check(finite_float(0, 1e30));
  cmd->add_option("--ranks", o->ranks, "With 'scaling': the data-parallel ranks mpirun starts")
      ->check(int_range(2, 64));
  cmd->add_option("--bucket-kib", o->bucket_kib,
                  "With 'scaling': gradient bucket sizes to compare, KiB, comma-separated (0 = one bucket)");
  cmd->add_flag("--mpi-worker", o->mpi_worker, "Internal: one rank of 'gradc bench scaling' (run by mpirun)");
  cmd->callback([o] {
    std::vector<int64_t> buckets;
    // At most 4 GiB: a bucket holds gradients, and KiB * 1024 must not overflow.
    for (int64_t kib : parse_int_list(o->bucket_kib, "--bucket-kib", 0, int64_t{4} << 20))
      buckets.push_back(kib * 1024);
    if (o->mpi_worker && world().size() < 2)  // world(): under mpirun this starts MPI, as the worker needs
      throw UsageError("gradc: --mpi-worker is internal to 'gradc bench scaling', which starts it under mpirun");
    if (o->mpi_worker)
      return scaling_worker(o->model, o->batch ? o->batch : find_model(o->model).default_batch, o->reps, buckets.at(0));
    if (o->model == "scaling") {
      ScalingOptions so;
      so.cases = {{"mlp512", 1024}, {"dnn", 128}};
      so.ranks = o->ranks;
      so.reps = std::min(o->reps, 30);
      so.bucket_bytes = buckets;
      so.json = o->json;
      return scaling_table(so);
    }
    if (o->model == "gemm") return gemm_table(o->shape, std::min(o->reps, 30), o->report);
    if (!o->shape.empty()) throw UsageError("gradc: --shape only applies to 'gradc bench gemm'");
    if (o->compare_fusion) {
      if (o->arch.resolve(o->model == "suite" ? "dnn" : o->model) !=
          find_model(o->model == "suite" ? "dnn" : o->model).arch)
        throw UsageError("gradc: --compare-fusion times the models' default layers (the PyTorch side builds them)");
      return fusion_suite(*o);
    }
    const Arch arch = o->arch.resolve(o->model);
    const int64_t batch = o->batch ? o->batch : find_model(o->model).default_batch;
    if (o->kernels)
      return kernel_table(o->model, batch, std::min(o->reps, 50), o->report, o->flags.options(), arch, o->step_opt());
    if (o->convs) return conv_table(o->model, batch, arch, std::min(o->reps, 30), o->json);
    if (o->predict) return predict_table(o->model, batch, arch, o->reps, o->flags.options());
    StepGraph s = make_step_graph(o->model, batch, o->step_opt(), &arch);
    const Graph& g = s.model->g;
    auto jit = make_engine(g, EngineKind::Jit, o->flags.options());
    fill_inputs(g, *jit);
    const auto [t1, t2] = best_of_rounds_1_2([&](int t) {
      jit->set_threads(t);
      return median_us(*jit, o->reps, 4);
    });
    double flops = 0;
    for (const KernelInfo& k : compile(g, o->flags.options())->plan.kernels) flops += k.flops;
    const double peak1 = target_fma_peak(1), peak2 = target_fma_peak(2);
    double tref = 0;
    if (!o->no_reference) {
      auto ref = make_engine(g, EngineKind::Reference);
      fill_inputs(g, *ref);
      tref = median_us(*ref, std::min(o->reps, 20), 5);
    }
    const double best = std::min(t1, t2);
    // Dispatch overhead: a program with one tiny kernel (fork/join + one call).
    Graph tiny;
    tiny.mark_output(neg(tiny.input("x", {4})), "y");
    auto te = make_engine(tiny, EngineKind::Jit);
    te->set_threads(1);
    const double o1 = median_us(*te, 2000, 2);
    te->set_threads(2);
    const double o2 = median_us(*te, 2000, 2);
    if (o->json) {
      std::printf(
          "{\"model\": \"%s\", \"batch\": %lld, \"optimizer\": \"%s\", \"clip_norm\": %g, \"compile_ms\": %.1f, "
          "\"reference_us\": %.1f, "
          "\"jit_1t_us\": %.2f, \"jit_2t_us\": %.2f, \"speedup_vs_reference\": %.1f, \"scaling_2t\": %.3f, "
          "\"empty_program_1t_us\": %.3f, \"empty_program_2t_us\": %.3f, \"gflop_per_step\": %.4f, "
          "\"peak_1t_gflops\": %.1f, \"peak_2t_gflops\": %.1f}\n",
          o->model.c_str(), static_cast<long long>(batch), o->optimizer.c_str(), static_cast<double>(o->clip),
          jit->compile_ms(), tref, t1, t2, tref > 0 ? tref / best : 0.0, t1 / t2, o1, o2, flops / 1e9, peak1, peak2);
      return;
    }
    std::printf(
        "%s training step (forward + backward + %s), batch %lld, %.2f MFLOP — median µs per step (best of 3 "
        "rounds)\n",
        o->model.c_str(), o->update().c_str(), static_cast<long long>(batch), flops / 1e6);
    std::printf("  %-22s %12s %10s %9s %14s\n", "engine", "µs/step", "vs ref", "GFLOP/s", "% FMA peak");
    auto vs_ref = [&](double t) { return tref > 0 ? std::to_string(static_cast<int>(tref / t + 0.5)) + "x" : "-"; };
    if (tref > 0) std::printf("  %-22s %12.1f %10s %9.2f\n", "reference interpreter", tref, "1x", flops / tref / 1e3);
    std::printf("  %-22s %12.1f %10s %9.1f %13.0f%%\n", "JIT, 1 thread", t1, vs_ref(t1).c_str(), flops / t1 / 1e3,
                100 * flops / t1 / 1e3 / peak1);
    std::printf("  %-22s %12.1f %10s %9.1f %13.0f%%\n", "JIT, 2 threads", t2, vs_ref(t2).c_str(), flops / t2 / 1e3,
                100 * flops / t2 / 1e3 / peak2);
    std::printf("  measured FMA peak %.1f GFLOP/s (1 thread), %.1f (2 threads)\n", peak1, peak2);
    if (o->flags.precision == "bf16" && default_target().runnable)
      std::printf("  --precision bf16: measured vdpbf16ps peak %.1f GFLOP/s (1 thread), %.1f (2 threads)\n",
                  measure_bf16_peak(1), measure_bf16_peak(2));
    std::printf("  %s\n", target_line().c_str());
    std::printf("  2-thread scaling %.2fx; JIT compile of the step program %.1f ms\n", t1 / t2, jit->compile_ms());
    std::printf("  per-step overhead of a one-kernel program: %.2f µs (1 thread), %.2f µs (2 threads: fork/join)\n", o1,
                o2);
    if (const std::string cc = cross_core_line(); !cc.empty()) std::printf("  %s\n", cc.c_str());
  });
}

}  // namespace gradc::cli
