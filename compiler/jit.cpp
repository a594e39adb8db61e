#include "compiler/jit.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <chrono>
#include <map>
#include <mutex>

#include "compiler/codegen.h"

namespace gradc {

namespace {
template <class T>
T check(llvm::Expected<T> v, const char* what) {
  if (!v) throw std::runtime_error(std::string("gradc: LLVM ") + what + ": " + llvm::toString(v.takeError()));
  return std::move(*v);
}

struct Jit {
  std::mutex mu;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::string cpu, features;
  std::map<uint64_t, std::shared_ptr<const CompiledProgram>> cache;
  int compiles = 0;

  Jit() {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto jtmb = check(llvm::orc::JITTargetMachineBuilder::detectHost(), "host detection");
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    cpu = jtmb.getCPU();
    features = jtmb.getFeatures().getString();
    tm = check(jtmb.createTargetMachine(), "target machine");
    lljit = check(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(jtmb).create(), "LLJIT");
    // Kernels call libm (tanhf, log1pf, expf for scalar tails): resolve from this process.
    lljit->getMainJITDylib().addGenerator(check(
        llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(lljit->getDataLayout().getGlobalPrefix()),
        "symbol generator"));
  }

  void optimise(llvm::Module& m) {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions pto;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    llvm::PassBuilder pb(tm.get(), pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
  }

  std::string assembly(const llvm::Module& m) {
    auto clone = llvm::CloneModule(m);
    llvm::SmallString<0> buf;
    llvm::raw_svector_ostream os(buf);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
      throw std::runtime_error("gradc: LLVM cannot emit assembly for this target");
    pm.run(*clone);
    return std::string(buf.str());
  }
};

Jit& jit() {
  static Jit j;
  return j;
}
}  // namespace

int compile_count() {
  std::lock_guard<std::mutex> lock(jit().mu);
  return jit().compiles;
}

std::shared_ptr<const CompiledProgram> compile(const Graph& g, const CompileOptions& opt) {
  Jit& j = jit();
  std::lock_guard<std::mutex> lock(j.mu);
  const uint64_t h = graph_hash(g);
  auto it = j.cache.find(h);
  if (it != j.cache.end() && (!opt.keep_ir || !it->second->ir.empty()) &&
      (!opt.keep_asm || !it->second->assembly.empty()))
    return it->second;

  const auto t0 = std::chrono::steady_clock::now();
  auto prog = std::make_shared<CompiledProgram>();
  prog->plan = make_plan(g);
  prog->hash = h;
  prog->cpu = j.cpu;
  prog->features = j.features;
  // A fresh prefix per compilation keeps symbols unique even when recompiling for dumps.
  const std::string prefix = "g" + std::to_string(h % 1000000007ULL) + "_" + std::to_string(j.compiles) + "_";
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto m = emit_module(g, prog->plan, *ctx, prefix);
  m->setDataLayout(j.tm->createDataLayout());
  m->setTargetTriple(j.tm->getTargetTriple().str());
  for (llvm::Function& f : *m)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", j.cpu);
      f.addFnAttr("target-features", j.features);
    }
  j.optimise(*m);
  if (opt.keep_ir) {
    llvm::raw_string_ostream os(prog->ir);
    m->print(os, nullptr);
  }
  if (opt.keep_asm) prog->assembly = j.assembly(*m);
  if (auto err = j.lljit->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx))))
    throw std::runtime_error("gradc: LLVM addIRModule: " + llvm::toString(std::move(err)));
  for (const KernelInfo& k : prog->plan.kernels)
    prog->fns.push_back(check(j.lljit->lookup(prefix + k.fn), "symbol lookup").toPtr<KernelFn>());
  prog->compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++j.compiles;
  j.cache[h] = prog;
  return prog;
}

}  // namespace gradc
