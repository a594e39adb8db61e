#include "autodiff/op_table.h"

#include "autodiff/grad_rules.h"
#include "autodiff/shape_rules.h"

namespace gradc {

namespace {
constexpr OpInfo kTable[] = {
#define GRADC_ROW(E, name, arity, kind, diff) \
  {Op::E, name, arity, OpKind::kind, diff, &infer_##E, diff ? &grad_##E : nullptr},
    GRADC_OPS(GRADC_ROW)
#undef GRADC_ROW
};
}  // namespace

std::span<const OpInfo> op_table() { return kTable; }
const OpInfo& op_info(Op op) { return kTable[static_cast<size_t>(op)]; }
const char* op_name(Op op) { return op_info(op).name; }
bool is_fused_op(Op op) { return op == Op::Dense || op == Op::MatMulMask || op == Op::SoftmaxXentGrad; }

}  // namespace gradc
