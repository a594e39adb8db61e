#include "tools/bench_conv.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "autodiff/dsl.h"
#include "autodiff/shape_rules.h"
#include "compiler/target.h"
#include "runtime/engine.h"
#include "tools/bench_steps.h"
#include "tools/peak.h"
#include "tools/spawn.h"

namespace gradc::cli {

namespace {
struct Conv {
  Shape x, w;
  bool input_is_data;  // x is the model's input: its gradient is not part of the step
  Attrs a;             // strides, padding
  ConvGeo geo;
  double flops;  // of each of the three passes: 2·B·OH·OW·F·KH·KW·C
};

const char* kPass[3] = {"forward", "input gradient", "filter gradient"};

// One pass of one convolution compiled as the JIT engine, its operands random (the graph lives as
// long as the engine that runs it).
struct PassRun {
  Graph g;
  std::unique_ptr<Engine> engine;
};

std::unique_ptr<PassRun> pass_run(const Conv& c, int pass) {
  auto r = std::make_unique<PassRun>();
  Graph& g = r->g;
  const Shape ys{c.geo.B, c.geo.OH, c.geo.OW, c.geo.F};
  Tensor out;
  if (pass == 0)
    out = conv2d(g.input("x", c.x), g.input("w", c.w), c.a.pad, c.a.strides);
  else if (pass == 1)
    out = conv2d_grad_input(g.input("dy", ys), g.input("w", c.w), c.x, c.a.pad, c.a.strides);
  else
    out = conv2d_grad_filter(g.input("x", c.x), g.input("dy", ys), c.w, c.a.pad, c.a.strides);
  g.mark_output(out, "out");
  r->engine = make_engine(g, EngineKind::Jit);
  fill_inputs(g, *r->engine);
  return r;
}

double pass_us(PassRun& r, int threads, int reps) {
  r.engine->set_threads(threads);
  return median_us(*r.engine, reps, 4);
}

// oneDNN's three passes at `threads` (OMP_NUM_THREADS of the child), or the reason there are none.
nlohmann::json onednn(const Conv& c, int threads, int reps) {
#ifdef GRADC_DNNL_BENCH
  const ConvGeo& g = c.geo;
  const int64_t pb = std::max<int64_t>(0, (g.OH - 1) * g.SH + g.KH - g.H - g.ph);
  const int64_t pr = std::max<int64_t>(0, (g.OW - 1) * g.SW + g.KW - g.W - g.pw);
  std::vector<std::string> argv = {GRADC_DNNL_BENCH};
  for (int64_t v : {int64_t{reps}, g.B, g.H, g.W, g.C, g.KH, g.KW, g.F, g.SH, g.SW, g.ph, pb, g.pw, pr})
    argv.push_back(std::to_string(v));
  SpawnOptions o;
  o.extra_env = {"OMP_NUM_THREADS=" + std::to_string(threads), "OMP_PROC_BIND=false"};
  // An AVX2 target is compared with oneDNN's AVX2 kernels, not the host's AVX-512 ones.
  if (default_target().isa == Isa::Avx2) o.extra_env.push_back("ONEDNN_MAX_CPU_ISA=AVX2");
  o.capture_stderr = true;
  const SpawnResult r = run_capture(argv, o);
  const auto at = r.out.find('{');
  if (at == std::string::npos) return {{"error", "gradc_dnnl_bench failed: " + r.err}};
  return nlohmann::json::parse(r.out.substr(at, r.out.find('\n', at) - at));
#else
  (void)c, (void)threads, (void)reps;
  return {{"error", "not built (Debian's libdnnl-dev was missing when gradc was configured)"}};
#endif
}

// The better of two runs of each of oneDNN's passes (the VM's noise comes in bursts).
nlohmann::json best_onednn(const Conv& c, int threads, int reps) {
  nlohmann::json a = onednn(c, threads, reps);
  if (a.contains("error")) return a;
  const nlohmann::json b = onednn(c, threads, reps);
  if (b.contains("error")) return a;
  for (const char* k : {"fwd_us", "bwd_data_us", "bwd_weights_us"})
    a[k] = std::min(a[k].get<double>(), b[k].get<double>());
  return a;
}

std::vector<Conv> convolutions(const std::string& model, int64_t batch, const Arch& arch) {
  std::vector<Conv> out;
  auto m = build_model(model, {.batch = batch, .training = true}, arch);
  for (const Node& n : m->g.nodes()) {
    if (n.op != Op::Conv2d) continue;
    int src = n.in[0];
    while (m->g.node(src).op == Op::Reshape) src = m->g.node(src).in[0];
    Conv c{m->g.node(n.in[0]).shape, m->g.node(n.in[1]).shape, m->g.node(src).op == Op::Input, n.a, {}, 0};
    if (c.a.strides.rank == 0) c.a.strides = {1, 1};
    c.geo = conv_geo(c.x, c.w, c.a);
    c.flops = 2.0 * static_cast<double>(c.geo.B * c.geo.OH * c.geo.OW * c.geo.F * c.geo.KH * c.geo.KW * c.geo.C);
    out.push_back(c);
  }
  return out;
}
}  // namespace

void conv_table(const std::string& model, int64_t batch, const Arch& arch, int reps, bool json) {
  const std::vector<Conv> convs = convolutions(model, batch, arch);
  if (convs.empty()) throw std::invalid_argument("gradc: --convs: model " + model + " has no convolution");
  const double peak1 = target_fma_peak(1);
  if (!json) {
    std::printf(
        "%s\n%s batch %lld: each convolution pass alone, median µs; gradc = the default pipeline's "
        "kernels (im2col/col2im + GEMM); oneDNN %s\n",
        target_line().c_str(), model.c_str(), static_cast<long long>(batch),
        default_target().isa == Isa::Avx2
            ? "= its primitives on NHWC activations, filters in its preferred layout (reordered once, untimed), "
              "its ISA capped at AVX2 as the target's (ONEDNN_MAX_CPU_ISA)"
            : "= its primitives on NHWC activations, filters in its preferred layout (reordered once, untimed)");
    std::printf("%-34s %-16s %9s %9s %7s %9s %9s %7s %8s  %s\n", "convolution", "pass", "gradc 1t", "gradc 2t",
                "%peak1", "oneDNN 1t", "oneDNN 2t", "%peak1", "ratio", "oneDNN implementation");
  }
  nlohmann::json rows = nlohmann::json::array();
  std::string note;
  for (const Conv& c : convs) {
    const std::array<nlohmann::json, 2> dn = {best_onednn(c, 1, reps), best_onednn(c, 2, reps)};
    const std::string what = c.x.str() + " * " + c.w.str() + (c.a.pad == Padding::Same ? " same" : " valid") +
                             (c.a.strides[0] > 1 || c.a.strides[1] > 1 ? " /" + std::to_string(c.a.strides[0]) : "");
    for (int pass = 0; pass < 3; ++pass) {
      if (pass == 1 && c.input_is_data) {
        if (!json)
          std::printf("%-34s %-16s (not in the step: the images need no gradient)\n", what.c_str(), kPass[pass]);
        continue;
      }
      auto run = pass_run(c, pass);
      double g1 = 1e30, g2 = 1e30;
      for (int round = 0; round < 2; ++round)  // interleaved, so a busy moment hits both thread counts
        g1 = std::min(g1, pass_us(*run, 1, reps)), g2 = std::min(g2, pass_us(*run, 2, reps));
      const char* key = pass == 0 ? "fwd_us" : pass == 1 ? "bwd_data_us" : "bwd_weights_us";
      const char* impl = pass == 0 ? "fwd" : pass == 1 ? "bwd_data" : "bwd_weights";
      double d1 = 0, d2 = 0;
      std::string dimpl;
      if (dn[0].contains(key) && dn[1].contains(key)) {
        d1 = dn[0][key].get<double>(), d2 = dn[1][key].get<double>();
        dimpl = dn[0]["impl"][impl].get<std::string>();
      } else {
        note = (dn[0].contains("error") ? dn[0] : dn[1]).value("error", "no figure");
      }
      const double best_g = std::min(g1, g2), best_d = d1 > 0 ? std::min(d1, d2) : 0;
      rows.push_back({{"conv", what},
                      {"pass", kPass[pass]},
                      {"mflop", c.flops / 1e6},
                      {"gradc_us_1t", g1},
                      {"gradc_us_2t", g2},
                      {"onednn_us_1t", d1},
                      {"onednn_us_2t", d2},
                      {"onednn_impl", dimpl}});
      if (json) continue;
      std::printf("%-34s %-16s %9.1f %9.1f %6.0f%%", what.c_str(), kPass[pass], g1, g2,
                  100 * c.flops / g1 / 1e3 / peak1);
      if (best_d > 0)
        std::printf(" %9.1f %9.1f %6.0f%% %7.2fx  %s\n", d1, d2, 100 * c.flops / d1 / 1e3 / peak1, best_d / best_g,
                    dimpl.c_str());
      else
        std::printf(" %9s %9s %7s %8s\n", "", "", "", "");
    }
  }
  if (json) {
    std::printf(
        "%s\n",
        nlohmann::json{{"model", model}, {"batch", batch}, {"convs", rows}, {"onednn_note", note}}.dump().c_str());
    return;
  }
  std::printf(
      "ratio = oneDNN / gradc, each at its better thread count (> 1: gradc faster); each figure the better "
      "of two medians\n");
  if (!note.empty()) std::printf("oneDNN columns empty: %s\n", note.c_str());
}

}  // namespace gradc::cli
