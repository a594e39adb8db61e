// IR-building helpers shared by the kernel emitters: one Emitter per kernel function.
#pragma once
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <functional>

#include "compiler/plan.h"

namespace gradc {

class Emitter {
 public:
  // Creates `void name(ptr bufs, i64 lo, i64 hi, ptr scratch)` in `m` and positions the builder in its
  // body; vectors are `lanes` × f32 (the kernel spec's, from the target).
  Emitter(llvm::Module& m, const Graph& g, const Plan& p, const std::string& name, int lanes);
  // Terminates the function with `ret void`.
  void finish();

  llvm::IRBuilder<> b;
  const Graph& g;
  const Plan& plan;
  llvm::Function* fn = nullptr;
  llvm::Value* lo = nullptr;
  llvm::Value* hi = nullptr;
  llvm::Value* scratch = nullptr;  // per-thread private memory (KernelInfo::scratch_bytes)
  llvm::Type* f32 = nullptr;
  llvm::Type* i32 = nullptr;
  llvm::Type* i64 = nullptr;
  llvm::Type* ptr = nullptr;

  llvm::Value* c64(int64_t v) { return b.getInt64(static_cast<uint64_t>(v)); }
  llvm::Value* cf(float v);
  // Base pointer of a node's buffer (loaded from the buffer table once per kernel).
  llvm::Value* base(int node);
  llvm::Value* gep(llvm::Value* base, llvm::Value* idx) { return b.CreateInBoundsGEP(f32, base, idx); }
  llvm::Value* load(llvm::Value* base, llvm::Value* idx) { return b.CreateLoad(f32, gep(base, idx)); }
  void store(llvm::Value* v, llvm::Value* base, llvm::Value* idx) { b.CreateStore(v, gep(base, idx)); }
  llvm::Value* add(llvm::Value* x, llvm::Value* y) { return b.CreateAdd(x, y, "", false, true); }
  llvm::Value* mul(llvm::Value* x, llvm::Value* y) { return b.CreateMul(x, y, "", false, true); }

  // for (i = begin; i < end; ++i) body(i)
  void loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body);
  // The same loop, marked for LLVM neither to unroll nor to vectorise: a short constant trip count
  // over a long body (one exp per class) would otherwise be copied out that many times, costing
  // compile time.
  void rolled_loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body);
  // if (cond) then_body() else else_body() (else_body may be empty).
  void if_else(llvm::Value* cond, const std::function<void()>& then_body,
               const std::function<void()>& else_body = nullptr);
  // A stack slot in the entry block (promoted to a register by SROA/mem2reg).
  llvm::Value* slot(llvm::Type* t, const char* name = "");

  llvm::Value* call_intrinsic(llvm::Intrinsic::ID id, llvm::Value* x);
  llvm::Value* call_libm(const char* name, llvm::Value* x);  // float f(float)
  // exp/log as inline polynomial IR rather than libm calls: LLVM would scalarise a vectorised
  // llvm.exp into one expf call per lane. Max error ~2 ulp on the normal range (tests compare
  // against libm with a 1e-4 tolerance).
  llvm::Value* exp(llvm::Value* x);
  llvm::Value* log(llvm::Value* x);
  llvm::Value* fmax(llvm::Value* x, llvm::Value* y);  // x > y ? x : y (NaN-agnostic like the reference)

  // One vector register of f32 (16 lanes with AVX-512, 8 with AVX2): loads/stores of the first
  // `active` lanes (masked when active < lanes).
  // `width` > 0 asks for a vector of that many lanes instead (LLVM splits it into registers).
  const int lanes;
  llvm::FixedVectorType* vec(int width = 0) {
    return llvm::FixedVectorType::get(f32, static_cast<unsigned>(width ? width : lanes));
  }
  llvm::Value* splat(llvm::Value* scalar, int width = 0) {
    return b.CreateVectorSplat(static_cast<unsigned>(width ? width : lanes), scalar);
  }
  llvm::Value* vload(llvm::Value* p, int64_t active, int width = 0);
  void vstore(llvm::Value* v, llvm::Value* p, int64_t active, int width = 0);
  // A hint that the line at p will be read and written soon (prefetchw, kept in L1).
  void prefetch_write(llvm::Value* p);

 private:
  // loop(), returning its back edge (where loop metadata goes).
  llvm::Instruction* emit_loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body);
  // i32, or a vector of i32 as long as t (exp's and log's exponent bits).
  llvm::Type* same_shape_i32(llvm::Type* t);

  llvm::Module& m_;
  llvm::Value* bufs_ = nullptr;
  llvm::BasicBlock* entry_ = nullptr;
  std::vector<std::pair<int, llvm::Value*>> bases_;
};

// Value of elementwise node `node` at flat index `flat` of a loop over `total` elements viewed as
// rows × `cols` (`col` = flat % cols), computing the nodes in `group` in registers and loading the
// others from their buffers (with suffix broadcasting).
llvm::Value* elementwise_value(Emitter& e, const std::vector<int>& group, int node, int64_t total, int64_t cols,
                               llvm::Value* flat, llvm::Value* col);

// The same as a vector of the `active` lanes from `flat` (and `col`) on, for a group that
// elementwise_vectorisable accepts: map ops that vectorise as written, every operand outside the
// group whole, of `cols` elements (a row's period) or a scalar. `given` is an operand outside the
// group whose value the caller holds (a GEMM epilogue's accumulator), not loaded.
bool elementwise_vectorisable(const Graph& g, const std::vector<int>& group, int64_t total, int64_t cols);
struct Given {
  int node = -1;
  llvm::Value* value = nullptr;
};
llvm::Value* elementwise_vector(Emitter& e, const std::vector<int>& group, int node, int64_t total, int64_t cols,
                                llvm::Value* flat, llvm::Value* col, int64_t active, Given given = {});
// Several nodes of one group at the same index (a GEMM epilogue storing several update rules),
// each computed once however many of them read it.
std::vector<llvm::Value*> elementwise_vectors(Emitter& e, const std::vector<int>& group, const std::vector<int>& nodes,
                                              int64_t total, int64_t cols, llvm::Value* flat, llvm::Value* col,
                                              int64_t active, Given given = {});

// The nodes a kernel stores: its own, or every update rule the plan merged into it
// (update_epilogues: Adam's m, v and p over one gradient), in node order.
std::vector<int> stored_nodes(const Graph& g, const KernelInfo& k);

// In-register transpose of L rows of L lanes (L = v.size(), a power of two): element (i, l) moves
// to (l, i). codegen_rows.cpp (transpose kernels) and the GEMM's transposing B pack use it.
void transpose_tile(Emitter& e, std::vector<llvm::Value*>& v);

// Per-op-kind emitters; each fills the kernel function for `k`.
void emit_elementwise(Emitter& e, const KernelInfo& k);
void emit_gemm(Emitter& e, const KernelInfo& k);
void emit_reduce(Emitter& e, const KernelInfo& k);
void emit_layout(Emitter& e, const KernelInfo& k);
void emit_row(Emitter& e, const KernelInfo& k);
void emit_loss(Emitter& e, const KernelInfo& k);
void emit_conv(Emitter& e, const KernelInfo& k);       // conv2d and its gradients; pooling via emit_pool
void emit_pool(Emitter& e, const KernelInfo& k);       // max/avg_pool2d and their gradients (codegen_pool.cpp)
void emit_im2col_op(Emitter& e, const KernelInfo& k);  // im2col, col2im (codegen_im2col.cpp)
void emit_copy(Emitter& e, const KernelInfo& k);

}  // namespace gradc
