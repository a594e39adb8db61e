// Ahead-of-time export: a graph's kernels and a C-callable driver in one relocatable object file
// that needs no LLVM and no gradc library at run time (libc and libm; libomp when compiled for
// more than one thread) — the role of XLA's tfcompile and Glow's bundles. The driver owns a static
// arena laid out by the same memory plan the JIT uses and runs the same kernels in the same order,
// so an exported program computes what the JIT'd one computes, bit for bit, on the same target.
//
// C interface (PREFIX = AotSpec::symbol_prefix):
//   int PREFIX_predict(const float* x, int64_t n, float* out);  // n examples; any n >= 0
//   or, for a training step (AotSpec::train_step), one step on one batch, updates included:
//   int PREFIX_train_step(const float* x, const int32_t* y, float lr, int32_t key, float* loss);
//   int PREFIX_load_weights(const char* path);  // a weights file (aot_weights_file)
//   int PREFIX_save_weights(const char* path);  // the current ones, in the same format
//   int PREFIX_set_threads(int n);              // 1..AotSpec::threads
// Results: 0 success; 1 a null pointer or negative n; 2 no weights loaded yet (predict, train_step)
// or a file that cannot be opened, read or written; 3 a file that holds other weights; 4 a label
// outside [0, classes) (train_step). Not reentrant: one call at a time per process (the arena is
// static).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "compiler/compile_options.h"

namespace gradc {

struct AotSpec {
  std::string symbol_prefix = "gradc_model";
  std::string input;  // the f32 Input fed per call, [batch, ...]
  int output = -1;    // node id in the graph of the [batch, ...] result copied out per call
  std::map<std::string, std::vector<float>> params;  // every live parameter's values, by name
  bool embed_weights = false;                        // weights in the object (else PREFIX_load_weights before predict)
  int threads = 1;  // > 1: kernels split over an OpenMP team of up to this many threads
  // A training step instead of predict: `output` is the scalar loss; these inputs are fed per call
  // (those the graph reads; the rest are absent from it or unread).
  bool train_step = false;
  std::string labels = "y", lr = "lr", key = "dropout_key";
  int64_t classes = 0;  // train_step: labels must be in [0, classes)
};

struct AotParam {
  std::string name;
  Shape shape;
  int64_t offset = 0;  // in floats, in the weights file's payload
};

struct AotModule {
  std::string object;            // ELF relocatable object for the target
  std::string assembly;          // the same code as text (only when CompileOptions::keep_asm)
  std::vector<AotParam> params;  // in the weights file's order
  std::vector<float> weights;    // the payload of the weights file
  uint64_t fingerprint = 0;      // of the parameter names and shapes: a weights file must match
  std::string prefix;
  Shape input_shape, output_shape;  // with the compiled batch first
  int64_t arena_bytes = 0, scratch_bytes = 0;
  size_t kernels = 0;
  int threads = 1;
  bool embedded = false;
  bool train_step = false;
  int64_t classes = 0;
  Target target;
};

// Compiles `g` (passes, plan, kernels for opt.target or the default target — which need not be the
// host's) plus the driver. Throws std::invalid_argument naming what is wrong: no such input, a
// parameter without values or with the wrong count, another live input, a bad prefix.
AotModule compile_aot(const Graph& g, const AotSpec& spec, const CompileOptions& opt = {});

// The C header declaring the interface, the shapes as constants, and `about` as its first comment.
std::string aot_header(const AotModule& m, const std::string& about);

// The weights file PREFIX_load_weights reads: "GRADCWB1", the fingerprint and the float count as
// little-endian u64, then the floats (little-endian f32) in AotModule::params order.
std::string aot_weights_file(const AotModule& m);

}  // namespace gradc

namespace llvm::orc {
class LLJIT;
}

namespace gradc {

// An exported object linked into this process, as a C program would link model.o (symbols from
// libc, libm and libomp resolved in this process): for tests and export's self-check. The host
// must be able to run the object's target (std::invalid_argument otherwise).
class AotLoaded {
 public:
  explicit AotLoaded(const AotModule& m);
  ~AotLoaded();
  AotLoaded(const AotLoaded&) = delete;
  AotLoaded& operator=(const AotLoaded&) = delete;
  // The address of PREFIX_name.
  void* symbol(const std::string& name) const;

 private:
  std::string prefix_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

}  // namespace gradc
