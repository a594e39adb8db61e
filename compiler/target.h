// What the JIT compiles for: one description per target, built once per process, that every
// width- and cache-dependent decision reads (the schedule's tile table, blocking, gemm-layout
// thresholds, the emitters' vector type). Chosen from the host by default, or forced with
// `--target NAME` / GRADC_TARGET=NAME: host, x86-64-v3 (AVX2+FMA), x86-64-v4 (AVX-512), an LLVM
// x86 CPU name (znver3, skylake-avx512, ...), or aarch64 (armv8-a with NEON) / an LLVM AArch64 CPU
// name (neoverse-n1, neoverse-v1, apple-m1, ...), which an x86 host compiles (export, dumps) but
// does not run.
#pragma once
#include <cstdint>
#include <string>

namespace gradc {

enum class Isa { Avx2, Avx512, Neon };

struct Target {
  std::string name;      // as asked ("host", "x86-64-v3", "znver4", "aarch64", ...)
  std::string triple;    // LLVM target triple (the process's for x86-64)
  std::string cpu;       // LLVM target-cpu
  std::string tune_cpu;  // LLVM tune-cpu: the host's model when it can run the code, else `cpu`
  std::string features;  // LLVM target-features ("" = the CPU's own set)
  Isa isa = Isa::Avx2;
  int lanes = 8;                 // f32 per vector register
  int vector_regs = 16;          // architectural vector registers
  bool mask_regs = false;        // predicated loads/stores in hardware (AVX-512 k registers)
  bool bf16 = false;             // AVX512_BF16: vdpbf16ps (bf16 pairs into f32), for --precision bf16
  int64_t l1d_bytes = 32 << 10;  // per core
  int64_t l2_bytes = 512 << 10;  // per core
  int fma_latency = 4;           // cycles
  int fma_pipes = 2;             // FMAs issued per cycle
  int cores = 1;                 // physical cores of the host
  bool runnable = false;         // the host can execute every instruction this target may emit

  const char* isa_name() const {
    return isa == Isa::Avx512 ? "AVX-512" : isa == Isa::Neon ? "AArch64 NEON" : "AVX2+FMA";
  }
  // Vector width in bits, for LLVM's prefer-vector-width / min-legal-vector-width.
  int vector_bits() const { return lanes * 32; }
  // One line: name, cpu, ISA, lanes, registers, caches, FMA, runnable.
  std::string describe() const;
  // Part of the compile-cache key: two targets that differ in anything codegen reads differ here.
  uint64_t key() const;
};

// The target named `name` (see above); throws std::invalid_argument naming the value and the
// accepted ones when it is unknown or not an x86-64 target with AVX2+FMA.
Target make_target(const std::string& name);

// The process-wide default: set_default_target() if called, else $GRADC_TARGET, else "host".
const Target& default_target();
void set_default_target(const std::string& name);
void set_default_target(const Target& t);  // e.g. a target with cache sizes fixed for a test

// Throws std::invalid_argument when the host cannot run code for `t` ("compile and dump only").
void require_runnable(const Target& t);

// Accepted names, for help texts and errors.
const char* target_names_help();

}  // namespace gradc
