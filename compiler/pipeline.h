// The pass pipeline (XLA's HloPassPipeline): the one place that decides which passes run, in what
// order, and what is checked between them. Passes are named and report whether they changed the
// graph; the cleanup group (simplify, fold, cse, dce) is iterated to a fixed point instead of
// being called from inside other passes; the verifier (compiler/verifier.h) runs after every pass.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "compiler/compile_options.h"
#include "compiler/passes.h"

namespace gradc {

// One pass as it ran.
struct PassRun {
  std::string name;
  double ms = 0;         // the pass alone, without the verifier
  bool changed = false;  // the graph's code key differs from its input's
  size_t nodes = 0;      // after the pass
};

// On unless GRADC_VERIFY=0: it costs about a millisecond per compile (README: pipeline).
bool verify_by_default();

struct PipelineOptions {
  bool verify = verify_by_default();  // the verifier after every pass
  std::string stop_after;             // stop right after the first run of this pass ("" = run everything)
  // Called after every pass with its position (0, 1, ...), e.g. to dump the graph.
  std::function<void(const PassRun&, int index, const Graph&)> after_pass;
};

class PassPipeline {
 public:
  PassPipeline& add(const std::string& pass);  // throws std::invalid_argument for an unknown name
  // Runs `passes` in order, again and again, until a round changes nothing (at most max_rounds).
  PassPipeline& add_fixed_point(const std::string& label, std::vector<std::string> passes, int max_rounds = 8);
  // Whether the plan after it runs GEMM epilogues (PassContext::epilogues; on by default).
  PassPipeline& epilogues(bool on);

  // The pipeline as text: "cleanup*(simplify,fold,cse,dce) fuse-xent fuse-dense ...".
  std::string describe() const;
  // Every pass name that can run, once each, in first-run order.
  std::vector<std::string> pass_names() const;
  bool contains(const std::string& pass) const;

  // Runs on g for target t; `log` gets every pass run. Throws VerifyError naming the pass.
  PassResult run(const Graph& g, const Target& t, const PipelineOptions& o = {},
                 std::vector<PassRun>* log = nullptr) const;

 private:
  struct Step {
    std::string label;  // "" for a single pass
    std::vector<std::string> passes;
    int max_rounds = 1;
  };
  std::vector<Step> steps_;
  bool epilogues_ = true;
};

// The pipeline a compilation runs: the explicit passes of `opt` (each once, in order), else the
// default — with fusion: cleanup*, fuse-xent, fuse-dense, cleanup*, gemm-layout, dce; without:
// cleanup*, gemm-layout; its passes know whether the plan fuses epilogues (opt.fuse). compile(),
// view_after (gradc dot), the benchmarks and the Trainer all come here.
PassPipeline pipeline_for(const CompileOptions& opt);

// `passes` once each, in order, verified (pipeline_for with explicit passes); `target`: whose
// thresholds apply (nullptr: default_target()).
PassResult run_passes(const Graph& g, const std::vector<std::string>& passes, const Target* target = nullptr);

}  // namespace gradc
