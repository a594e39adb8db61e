#include "compiler/codegen.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include "compiler/emitter.h"

namespace gradc {

bool has_lowering(Op op) {
  switch (op_info(op).kind) {
    case OpKind::Source:
    case OpKind::Unary:
    case OpKind::Binary:
    case OpKind::Gemm:
    case OpKind::Reduce:
    case OpKind::Row:
    case OpKind::Loss:
    case OpKind::Conv:
    case OpKind::Collective:  // lowered by the runtime (runtime/collectives.h), not by codegen
      return true;
    case OpKind::Layout:
      return op == Op::Reshape || op == Op::Transpose || op == Op::Broadcast;
  }
  return false;
}

std::unique_ptr<llvm::Module> emit_module(const Graph& g, const Plan& p, llvm::LLVMContext& ctx,
                                          const std::string& prefix, const std::vector<size_t>& which) {
  auto m = std::make_unique<llvm::Module>(prefix, ctx);
  for (size_t idx : which) {
    const KernelInfo& k = p.kernels[idx];
    Emitter e(*m, g, p, prefix + k.fn, k.spec.lanes);
    if (k.copy_from >= 0) {
      emit_copy(e, k);
    } else {
      switch (op_info(g.node(k.node).op).kind) {
        case OpKind::Unary:
        case OpKind::Binary:  // a GEMM's kernel when the plan put this chain in its epilogue
          (is_gemm(k.spec.strategy) ? emit_gemm : emit_elementwise)(e, k);
          break;
        case OpKind::Gemm:
          emit_gemm(e, k);
          break;
        case OpKind::Reduce:
          emit_reduce(e, k);
          break;
        case OpKind::Layout:
          emit_layout(e, k);
          break;
        case OpKind::Row:
          emit_row(e, k);
          break;
        case OpKind::Loss:
          emit_loss(e, k);
          break;
        case OpKind::Conv:  // col2im with its GEMM fused is that GEMM's kernel
          (is_gemm(k.spec.strategy) ? emit_gemm : emit_conv)(e, k);
          break;
        case OpKind::Source:
        case OpKind::Collective:  // an empty function: the runtime executes the collective itself
          break;
      }
    }
    e.finish();
  }
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*m, &os)) throw std::logic_error("gradc: generated IR is invalid: " + err);
  return m;
}

}  // namespace gradc
