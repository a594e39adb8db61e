#include "compiler/jit.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "compiler/code_cache.h"
#include "compiler/code_key.h"
#include "compiler/codegen.h"
#include "compiler/llvm_backend.h"
#include "compiler/pipeline.h"

namespace gradc {

namespace {
using Clock = std::chrono::steady_clock;
double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

template <class T>
T check(llvm::Expected<T> v, const char* what) {
  if (!v) throw std::runtime_error(std::string("gradc: LLVM ") + what + ": " + llvm::toString(v.takeError()));
  return std::move(*v);
}

// Everything one compile worker needs; TargetMachines are not thread-safe, so one per worker.
struct Worker {
  std::unique_ptr<llvm::TargetMachine> tm;
};

struct Jit {
  std::mutex mu;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::map<uint64_t, std::vector<Worker>> workers;                                // by Target::key()
  std::map<uint64_t, std::vector<std::shared_ptr<const CompiledProgram>>> cache;  // by key_hash
  int compiles = 0;
  std::set<std::string> prefixes;  // symbol prefixes in the JIT already: each program's are its own

  Jit() {
    init_llvm();
    // The JIT only links objects: the code in them is compiled per target by the workers below.
    auto jtmb = check(llvm::orc::JITTargetMachineBuilder::detectHost(), "host detection");
    lljit = check(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(jtmb).create(), "LLJIT");
    // Kernels may call libm (log1pf in the sigmoid loss): resolve from this process.
    lljit->getMainJITDylib().addGenerator(
        check(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(lljit->getDataLayout().getGlobalPrefix()),
              "symbol generator"));
  }

  // One TargetMachine per compile worker for target t (TargetMachines are not thread-safe).
  std::vector<Worker>& workers_for(const Target& t) {
    auto it = workers.find(t.key());
    if (it != workers.end()) return it->second;
    std::vector<Worker> w;
    const unsigned n = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
    for (unsigned i = 0; i < n; ++i) w.push_back({make_target_machine(t, false)});
    return workers[t.key()] = std::move(w);
  }
};

Jit& jit() {
  static Jit j;
  return j;
}

// What one worker produces from its share of the kernels.
struct Part {
  std::vector<size_t> kernels;
  std::string object, ir, assembly;
  double emit_ms = 0, opt_ms = 0, codegen_ms = 0;
  std::exception_ptr error;
};
}  // namespace

namespace {
void link_kernels(Jit& j, CompiledProgram& prog, const std::string& prefix) {
  prog.fns.resize(prog.plan.kernels.size());
  for (size_t k = 0; k < prog.plan.kernels.size(); ++k)
    prog.fns[k] = check(j.lljit->lookup(prefix + prog.plan.kernels[k].fn), "symbol lookup").toPtr<KernelFn>();
}

// The program's machine code from the persistent cache, if an entry for its key is there, sound,
// and its symbols are not in the JIT already (then it is compiled afresh under a new prefix).
bool load_from_disk(Jit& j, CompiledProgram& prog, const std::string& disk_key) {
  std::string warning;
  const std::optional<CachedCode> code = load_cached_code(disk_key, &warning);
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  if (!code || j.prefixes.count(code->prefix)) return false;
  j.prefixes.insert(code->prefix);
  for (const std::string& object : code->objects)
    if (auto err = j.lljit->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(object, code->prefix + "cached")))
      throw std::runtime_error("gradc: LLVM addObjectFile (code cache): " + llvm::toString(std::move(err)));
  link_kernels(j, prog, code->prefix);
  prog.from_code_cache = true;
  return true;
}
}  // namespace

void lower(const Graph& g, const CompileOptions& opt, const Target& target, CompiledProgram& prog) {
  PassResult opt_graph = pipeline_for(opt).run(g, target, {}, &prog.pass_log);
  prog.graph = std::move(opt_graph.g);
  prog.node_map = std::move(opt_graph.map);
  PlanOptions plan_opt;
  plan_opt.fuse_elementwise = plan_opt.implicit_gemm = opt.fuse;
  plan_opt.plan_memory = opt.plan_memory;
  plan_opt.target = &target;
  plan_opt.bf16 = opt.bf16;
  prog.plan = make_plan(prog.graph, plan_opt);
  prog.target = target;
}

int compile_count() {
  std::lock_guard<std::mutex> lock(jit().mu);
  return jit().compiles;
}

std::shared_ptr<const CompiledProgram> compile(const Graph& g, const CompileOptions& opt) {
  const Target& target = opt.target ? *opt.target : default_target();
  Jit& j = jit();
  std::lock_guard<std::mutex> lock(j.mu);
  const PassPipeline pipeline = pipeline_for(opt);
  std::string key = code_key(g) + target_key(target);
  key += opt.fuse ? 'F' : 'u';
  key += opt.plan_memory ? 'M' : 'm';
  key += opt.bf16 ? 'B' : 'f';
  key += pipeline.describe();
  const uint64_t h = key_hash(key);
  for (const auto& c : j.cache[h])
    if (c->key == key && (!opt.keep_ir || !c->ir.empty()) && (!opt.keep_asm || !c->assembly.empty())) return c;

  const auto t0 = Clock::now();
  auto prog = std::make_shared<CompiledProgram>();
  lower(g, opt, target, *prog);
  const Graph& gg = prog->graph;
  prog->hash = h;
  prog->key = key;
  // The persistent cache (compiler/code_cache.h) holds machine code only: passes and plan above
  // always run, so a loaded program's graph and plan are this build's.
  // Code for another architecture (AArch64 on an x86 host) is compiled and dumped, never linked.
  const bool foreign = !target.triple.empty() && target.triple != llvm::sys::getProcessTriple();
  const bool use_disk = !foreign && !opt.keep_ir && !opt.keep_asm && !code_cache_dir().empty();
  const std::string disk_key = key + '\n' + codegen_build_id();
  if (use_disk && load_from_disk(j, *prog, disk_key)) {
    prog->compile_ms = ms(t0, Clock::now());
    j.cache[h].push_back(prog);
    return prog;
  }
  std::vector<Worker>& workers = j.workers_for(target);
  // A fresh prefix per compilation keeps symbols unique even when recompiling for dumps.
  std::string prefix;
  for (int n = j.compiles; prefix.empty() || j.prefixes.count(prefix); ++n)
    prefix = "g" + std::to_string(h % 1000000007ULL) + "_" + std::to_string(n) + "_";
  j.prefixes.insert(prefix);

  // Split the kernels across the workers, balancing a rough code-size estimate (GEMM and conv
  // kernels carry unrolled tiles: an elementwise chain run in a GEMM's epilogue is a GEMM too),
  // largest first, then emit + O3 + machine code per part in parallel. In program order, one more
  // kernel ahead of mlp512's GEMMs put four of them on one worker: 350 -> 460 ms.
  std::vector<Part> parts(std::min(workers.size(), std::max<size_t>(1, prog->plan.kernels.size())));
  std::vector<double> load(parts.size(), 0);
  std::vector<double> cost(prog->plan.kernels.size());
  std::vector<size_t> order(cost.size());
  for (size_t k = 0; k < cost.size(); ++k) {
    const KernelInfo& ki = prog->plan.kernels[k];
    const bool big =
        ki.copy_from < 0 && (is_gemm(ki.spec.strategy) || op_info(gg.node(ki.node).op).kind == OpKind::Conv);
    cost[k] = big ? 4.0 : 1.0;
    order[k] = k;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return cost[a] != cost[b] ? cost[a] > cost[b] : a < b; });
  for (size_t k : order) {
    const size_t w = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    parts[w].kernels.push_back(k);
    load[w] += cost[k];
  }
  for (Part& part : parts) std::sort(part.kernels.begin(), part.kernels.end());
  auto work = [&](size_t w) {
    Part& part = parts[w];
    try {
      const auto a = Clock::now();
      llvm::LLVMContext ctx;
      llvm::TargetMachine& tm = *workers[w].tm;
      auto m = emit_module(gg, prog->plan, ctx, prefix, part.kernels);
      prepare_module(*m, tm, target);
      const auto b = Clock::now();
      optimise_module(*m, tm);
      const auto c = Clock::now();
      if (opt.keep_ir) {
        llvm::raw_string_ostream os(part.ir);
        m->print(os, nullptr);
      }
      if (opt.keep_asm) part.assembly = emit_assembly(*m, tm);
      part.object = emit_object(*m, tm);
      part.emit_ms = ms(a, b);
      part.opt_ms = ms(b, c);
      part.codegen_ms = ms(c, Clock::now());
    } catch (...) {
      part.error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < parts.size(); ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  CachedCode code{prefix, {}};
  for (Part& p : parts) {
    if (p.error) std::rethrow_exception(p.error);
    code.objects.push_back(p.object);
    prog->ir += p.ir;
    prog->assembly += p.assembly;
    prog->emit_ms = std::max(prog->emit_ms, p.emit_ms);
    prog->opt_ms = std::max(prog->opt_ms, p.opt_ms);
    prog->codegen_ms = std::max(prog->codegen_ms, p.codegen_ms);
    if (!foreign) {
      auto buf = llvm::MemoryBuffer::getMemBufferCopy(p.object, prefix + "obj");
      if (auto err = j.lljit->addObjectFile(std::move(buf)))
        throw std::runtime_error("gradc: LLVM addObjectFile: " + llvm::toString(std::move(err)));
    }
  }
  if (!foreign) link_kernels(j, *prog, prefix);
  if (use_disk) store_cached_code(disk_key, code);
  prog->compile_ms = ms(t0, Clock::now());
  ++j.compiles;
  std::erase_if(j.cache[h], [&](const auto& c) { return c->key == key; });  // a dump recompiled it
  j.cache[h].push_back(prog);
  return prog;
}

}  // namespace gradc
