#include "compiler/llvm_backend.h"

#include <llvm/IR/LegacyPassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include <mutex>
#include <sstream>
#include <stdexcept>

namespace gradc {

void init_llvm_targets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // AArch64 code is compiled on any host (export, dumps): its backend is registered too.
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
  });
}

void init_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A scalar epilogue is enough after a vector loop (the vectorised epilogue doubles loop code).
    // Loop strength reduction took over half of the machine-code time on the unrolled GEMM tiles
    // (llc -time-passes) for no measurable kernel speedup: addresses are already base + c·k.
    const char* args[] = {"gradc", "-enable-epilogue-vectorization=false", "-disable-lsr"};
    llvm::cl::ParseCommandLineOptions(3, args);
    init_llvm_targets();
  });
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(const Target& t, bool pic) {
  init_llvm();
  const std::string triple = t.triple.empty() ? llvm::sys::getProcessTriple() : t.triple;
  std::string err;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) throw std::runtime_error("gradc: LLVM has no target for " + triple + ": " + err);
  std::string features;
  std::stringstream fs(t.features);
  for (std::string f; std::getline(fs, f, ',');)
    if (!f.empty()) features += (features.empty() ? "" : ",") + f;
  llvm::TargetOptions opts;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(triple, t.cpu, features, opts,
                                                                      pic ? llvm::Reloc::PIC_ : llvm::Reloc::Static,
                                                                      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm) throw std::runtime_error("gradc: LLVM cannot make a target machine for " + t.name);
  return tm;
}

void prepare_module(llvm::Module& m, llvm::TargetMachine& tm, const Target& t) {
  m.setDataLayout(tm.createDataLayout());
  m.setTargetTriple(tm.getTargetTriple().str());
  for (llvm::Function& f : m)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", t.cpu);
      if (!t.features.empty()) f.addFnAttr("target-features", t.features);
      f.addFnAttr("tune-cpu", t.tune_cpu);
    }
}

void optimise_module(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  // GEMM tiles are register-blocked by hand; interleaving the vectorised elementwise loops only
  // multiplies code size and compile time.
  pto.LoopInterleaving = false;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
}

namespace {
std::string emit(llvm::Module& m, llvm::TargetMachine& tm, llvm::CodeGenFileType type) {
  llvm::SmallString<0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    throw std::runtime_error("gradc: LLVM cannot emit code for this target");
  pm.run(m);
  return std::string(buf.str());
}
}  // namespace

std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm) {
  return emit(m, tm, llvm::CodeGenFileType::ObjectFile);
}
std::string emit_assembly(llvm::Module& m, llvm::TargetMachine& tm) {
  return emit(m, tm, llvm::CodeGenFileType::AssemblyFile);
}

}  // namespace gradc
