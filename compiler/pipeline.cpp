#include "compiler/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "compiler/code_key.h"
#include "compiler/verifier.h"

namespace gradc {

namespace {
const std::vector<std::string> kCleanup = {"simplify", "fold", "cse", "dce"};

// a then b: old id -> a.map -> b.map.
PassResult compose(PassResult a, PassResult b) {
  for (int& m : a.map) m = m < 0 ? -1 : b.map[static_cast<size_t>(m)];
  return {std::move(b.g), std::move(a.map)};
}

// One pass on `cur` (composed into it), verified, logged; true when it changed the graph, i.e. its
// code key differs from `cur_key` (cur's, carried from the previous pass so each graph is keyed once).
bool run_one(const std::string& name, PassResult& cur, std::string& cur_key, const PassContext& c,
             const PipelineOptions& o, std::vector<PassRun>& log) {
  const auto t0 = std::chrono::steady_clock::now();
  PassResult next = find_pass(name).run(cur.g, c);
  PassRun r{name, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), false,
            next.g.size()};
  if (o.verify) {
    verify_graph(next.g, "after pass " + name);
    verify_rewrite(cur.g, next, "after pass " + name);
  }
  std::string next_key = code_key(next.g);
  r.changed = next_key != cur_key;
  cur_key = std::move(next_key);
  cur = compose(std::move(cur), std::move(next));
  log.push_back(r);
  if (o.after_pass) o.after_pass(r, static_cast<int>(log.size()) - 1, cur.g);
  return r.changed;
}
}  // namespace

bool verify_by_default() {
  const char* v = std::getenv("GRADC_VERIFY");
  return !(v && std::strcmp(v, "0") == 0);
}

PassPipeline& PassPipeline::add(const std::string& pass) {
  find_pass(pass);
  steps_.push_back({"", {pass}, 1});
  return *this;
}

PassPipeline& PassPipeline::add_fixed_point(const std::string& label, std::vector<std::string> passes, int max_rounds) {
  for (const std::string& p : passes) find_pass(p);
  steps_.push_back({label, std::move(passes), std::max(1, max_rounds)});
  return *this;
}

PassPipeline& PassPipeline::epilogues(bool on) {
  epilogues_ = on;
  return *this;
}

std::string PassPipeline::describe() const {
  std::string s;
  for (const Step& st : steps_) {
    if (!s.empty()) s += ' ';
    if (st.label.empty()) {
      s += st.passes[0];
      continue;
    }
    s += st.label + "*(";
    for (size_t i = 0; i < st.passes.size(); ++i) s += (i ? "," : "") + st.passes[i];
    s += ')';
  }
  return s;
}

std::vector<std::string> PassPipeline::pass_names() const {
  std::vector<std::string> names;
  for (const Step& st : steps_)
    for (const std::string& p : st.passes)
      if (std::find(names.begin(), names.end(), p) == names.end()) names.push_back(p);
  return names;
}

bool PassPipeline::contains(const std::string& pass) const {
  const std::vector<std::string> names = pass_names();
  return std::find(names.begin(), names.end(), pass) != names.end();
}

PassResult PassPipeline::run(const Graph& g, const Target& t, const PipelineOptions& o,
                             std::vector<PassRun>* log) const {
  std::vector<PassRun> local;
  std::vector<PassRun>& runs = log ? *log : local;
  if (o.verify) verify_graph(g, "on the pipeline's input");
  PassResult cur{g, {}};
  for (size_t i = 0; i < g.size(); ++i) cur.map.push_back(static_cast<int>(i));
  std::string cur_key = code_key(g);
  const PassContext c{t, epilogues_};
  for (const Step& st : steps_) {
    for (int round = 0; round < st.max_rounds; ++round) {
      bool changed = false;
      for (const std::string& p : st.passes) {
        changed |= run_one(p, cur, cur_key, c, o, runs);
        if (p == o.stop_after) return cur;
      }
      if (!changed) break;
    }
  }
  return cur;
}

PassPipeline pipeline_for(const CompileOptions& opt) {
  PassPipeline p;
  p.epilogues(opt.fuse);
  if (!opt.passes.empty()) {
    for (const std::string& name : opt.passes) p.add(name);
    return p;
  }
  p.add_fixed_point("cleanup", kCleanup);
  if (opt.fuse) {
    // fuse-dense-backward is not in the default pipeline: without packed panels the masked operand
    // is re-read (and re-masked) once per register tile, which measured slower than materialising
    // relu_grad once (gradc bench --compare-fusion --passes ...). Run it explicitly to compare.
    p.add("conv-gemm")
        .add("sink-reshape")
        .add("dce")  // the reshapes it sank past: fuse-dense counts uses
        .add("mask-before-pool")
        .add("pool-grad-sums")
        .add("fuse-xent")
        .add("dropout-mask")
        .add("fuse-dense")
        .add("fuse-update")
        .add_fixed_point("cleanup", kCleanup)
        .add("gemm-layout")
        .add("split-k")
        .add("split-rows")
        .add("dce");
  } else {
    p.add("gemm-layout");
  }
  return p;
}

PassResult run_passes(const Graph& g, const std::vector<std::string>& passes, const Target* target) {
  CompileOptions o;
  o.passes = passes;
  return pipeline_for(o).run(g, target ? *target : default_target());
}

}  // namespace gradc
