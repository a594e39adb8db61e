#include "compiler/target.h"

#include <cpuid.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include "compiler/llvm_backend.h"

namespace gradc {

namespace {
constexpr const char* kNames =
    "host, x86-64-v3 (AVX2+FMA), x86-64-v4 (AVX-512), an LLVM x86-64 CPU name with AVX2+FMA "
    "(znver3, znver4, haswell, skylake-avx512, ...), aarch64 (armv8-a, NEON), or an LLVM AArch64 CPU name "
    "(neoverse-n1, neoverse-v1, apple-m1, ...)";
constexpr const char* kAarch64Triple = "aarch64-unknown-linux-gnu";

std::unique_ptr<llvm::MCSubtargetInfo> subtarget(const std::string& cpu, const std::string& features,
                                                 const std::string& triple = llvm::sys::getProcessTriple()) {
  init_llvm_targets();
  std::string err;
  const llvm::Target* t = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!t) throw std::runtime_error("gradc: LLVM has no target for " + triple + ": " + err);
  return std::unique_ptr<llvm::MCSubtargetInfo>(t->createMCSubtargetInfo(triple, cpu, features));
}

// The host's features as an LLVM feature string ("+avx2,-avx512f,...").
std::string host_features() {
  std::string s;
  for (const auto& f : llvm::sys::getHostCPUFeatures())
    s += (s.empty() ? "" : ",") + std::string(f.second ? "+" : "-") + f.first().str();
  return s;
}

// "48K" / "1024K" / "32M" from sysfs.
int64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  int64_t v = std::atoll(s.c_str());
  if (s.back() == 'K') v <<= 10;
  if (s.back() == 'M') v <<= 20;
  return v;
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// L1d and L2 from cpuid. First the deterministic cache parameters (leaf 4 on Intel, 0x8000001D on
// AMD: size = ways × partitions × line × sets); VMs may leave those empty (this project's Zen 5
// guests do), so then the older extended leaves: 0x80000005 ECX[31:24] = L1d KiB (AMD only),
// 0x80000006 ECX[31:16] = L2 KiB.
void cpuid_caches(int64_t& l1d, int64_t& l2) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid(0x80000000, &a, &b, &c, &d);
  const unsigned max_ext = a;
  const unsigned leaf = max_ext >= 0x8000001D ? 0x8000001D : 4;
  bool found_l1 = false, found_l2 = false;
  for (unsigned i = 0; i < 8; ++i) {
    if (!__get_cpuid_count(leaf, i, &a, &b, &c, &d) || (a & 0x1f) == 0) break;
    const unsigned type = a & 0x1f, level = (a >> 5) & 7;
    const int64_t size = static_cast<int64_t>((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (c + 1);
    if (level == 1 && type == 1) l1d = size, found_l1 = true;
    if (level == 2 && type != 2) l2 = size, found_l2 = true;
  }
  const bool amd = __get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541;  // "Auth"enticAMD
  if (!found_l1 && amd && max_ext >= 0x80000005 && __get_cpuid(0x80000005, &a, &b, &c, &d) && (c >> 24))
    l1d = static_cast<int64_t>(c >> 24) << 10;
  if (!found_l2 && max_ext >= 0x80000006 && __get_cpuid(0x80000006, &a, &b, &c, &d) && (c >> 16))
    l2 = static_cast<int64_t>(c >> 16) << 10;
}

// Per-core L1d and L2 of cpu0 from sysfs, else cpuid (unchanged when neither says).
void host_caches(int64_t& l1d, int64_t& l2) {
  if (read_line("/sys/devices/system/cpu/cpu0/cache/index0/size").empty()) return cpuid_caches(l1d, l2);
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    const int64_t size = parse_size(read_line(dir + "size"));
    if (size <= 0) continue;
    if (level == "1" && type == "Data") l1d = size;
    if (level == "2") l2 = size;
  }
}

// Physical cores: distinct (package, core) pairs over the online CPUs.
int host_cores() {
  std::set<std::string> cores;
  for (int c = 0; c < 4096; ++c) {
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    const std::string core = read_line(dir + "core_id");
    if (core.empty()) break;
    cores.insert(read_line(dir + "physical_package_id") + ":" + core);
  }
  return cores.empty() ? 1 : static_cast<int>(cores.size());
}

// Features LLVM's instruction selection may use for ordinary IR (vector and scalar ALU ISA). System
// features (xsaves, invpcid, pku, ...) are left out: codegen never emits them, and VMs often hide
// them from guests, which would make e.g. znver3 code look unrunnable on a Zen 5 guest.
bool codegen_feature(const std::string& f) {
  for (const char* p :
       {"avx",  "sse",  "ssse3",      "fma",    "f16c", "bmi", "lzcnt", "popcnt",  "movbe",  "cx16", "adx",
        "gfni", "vaes", "vpclmulqdq", "pclmul", "aes",  "sha", "amx",   "evex512", "prfchw", "tbm",  "xop"})
    if (f.rfind(p, 0) == 0) return true;
  return false;
}

// True when every codegen feature that `t` enables is one the host has.
bool host_can_run(const llvm::MCSubtargetInfo& t) {
  const auto host = llvm::sys::getHostCPUFeatures();
  std::set<std::string> known;
  for (const auto& kv : t.getAllProcessorFeatures()) known.insert(kv.Key);
  for (const auto& f : host) {
    const std::string name = f.first().str();
    if (!f.second && known.count(name) && codegen_feature(name) && t.checkFeatures("+" + name)) return false;
  }
  return true;
}

void mix(uint64_t& h, const std::string& s) {
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  h = (h ^ 0xff) * 0x100000001b3ULL;
}

// armv8-a with NEON ("aarch64" = LLVM's generic AArch64 CPU, or a named one): 4 f32 lanes in each of
// 32 vector registers, no mask registers; caches of a Neoverse N1 (64 KiB L1d, 1 MiB L2).
Target aarch64_target(const std::string& name) {
  Target t;
  t.name = name;
  t.triple = kAarch64Triple;
  t.cpu = name == "aarch64" ? "generic" : name;
  t.tune_cpu = name == "aarch64" ? "neoverse-n1" : t.cpu;
  t.features = "+neon,+fp-armv8";
  t.isa = Isa::Neon;
  t.lanes = 4;
  t.vector_regs = 32;
  t.mask_regs = false;
  t.l1d_bytes = 64 << 10;
  t.l2_bytes = 1 << 20;
  t.runnable = llvm::Triple(llvm::sys::getProcessTriple()).isAArch64();
  t.cores = host_cores();
  return t;
}

bool is_aarch64_name(const std::string& name) {
  if (name == "aarch64") return true;
  return !subtarget("x86-64", "")->isCPUStringValid(name) &&
         subtarget("generic", "", kAarch64Triple)->isCPUStringValid(name);
}

Target x86_target(const std::string& name) {
  Target t;
  t.name = name;
  t.triple = llvm::sys::getProcessTriple();
  const std::string host_cpu = llvm::sys::getHostCPUName().str();
  if (name == "host" || name.empty()) {
    t.name = "host";
    t.cpu = host_cpu;
    t.features = host_features();
  } else {
    t.cpu = name;
  }
  if (!subtarget("x86-64", "")->isCPUStringValid(t.cpu))  // before LLVM warns about it on stderr
    throw std::invalid_argument("gradc: unknown target '" + name + "' (accepted: " + kNames + ")");
  auto sti = subtarget(t.cpu, t.features);
  if (!sti->checkFeatures("+avx2,+fma"))
    throw std::invalid_argument("gradc: target '" + name + "' lacks AVX2+FMA (accepted: " + std::string(kNames) + ")");
  const bool avx512 = sti->checkFeatures("+avx512f");
  t.isa = avx512 ? Isa::Avx512 : Isa::Avx2;
  t.lanes = avx512 ? 16 : 8;
  t.vector_regs = avx512 ? 32 : 16;
  t.mask_regs = avx512;
  t.bf16 = avx512 && sti->checkFeatures("+avx512bf16");
  t.l2_bytes = avx512 ? (1 << 20) : (512 << 10);  // Zen 4/5 and Skylake-SP: 1 MiB; Zen 3: 512 KiB
  t.runnable = host_can_run(*sti);
  t.cores = host_cores();
  // A generic ISA level that runs here is scheduled for this core; a named CPU for itself.
  t.tune_cpu = t.runnable && t.cpu.rfind("x86-64", 0) == 0 ? host_cpu : t.cpu;
  if (t.runnable) host_caches(t.l1d_bytes, t.l2_bytes);  // the code runs here: block for these caches
  return t;
}
}  // namespace

Target make_target(const std::string& name) {
  return name != "host" && !name.empty() && is_aarch64_name(name) ? aarch64_target(name) : x86_target(name);
}

std::string Target::describe() const {
  return name + " (cpu " + cpu + ", tuned for " + tune_cpu + "): " + isa_name() + ", " + std::to_string(lanes) +
         " f32 lanes, " + std::to_string(vector_regs) + " vector registers, " +
         (mask_regs ? "mask registers" : "no mask registers") + (bf16 ? ", bf16 dot products" : "") + ", L1d " +
         std::to_string(l1d_bytes >> 10) + " KiB, L2 " + std::to_string(l2_bytes >> 10) + " KiB, FMA " +
         std::to_string(fma_pipes) + " pipes x " + std::to_string(fma_latency) + " cycles, " + std::to_string(cores) +
         (cores == 1 ? " core" : " cores") + (runnable ? "" : "; NOT runnable on this host (compile and dump only)");
}

uint64_t Target::key() const {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::string& s : {cpu, tune_cpu, features, std::to_string(lanes), std::to_string(vector_regs),
                               std::to_string(l1d_bytes), std::to_string(l2_bytes)})
    mix(h, s);
  return h;
}

namespace {
std::mutex g_mu;
std::deque<Target> g_targets;  // never shrinks: references handed out stay valid
const Target* g_default = nullptr;
}  // namespace

const Target& default_target() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_default) {
    const char* env = std::getenv("GRADC_TARGET");
    try {
      g_targets.push_back(make_target(env && *env ? env : "host"));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + (env && *env ? " [from GRADC_TARGET]" : ""));
    }
    g_default = &g_targets.back();
  }
  return *g_default;
}

void set_default_target(const Target& t) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_targets.push_back(t);
  g_default = &g_targets.back();
}

void set_default_target(const std::string& name) { set_default_target(make_target(name)); }

void require_runnable(const Target& t) {
  if (!t.runnable)
    throw std::invalid_argument("gradc: target '" + t.name + "' (" + t.isa_name() +
                                ") cannot run on this CPU; it can be compiled and dumped (gradc compile) only");
}

const char* target_names_help() { return kNames; }

}  // namespace gradc
