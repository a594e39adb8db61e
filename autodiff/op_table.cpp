#include "autodiff/op_table.h"

#include "autodiff/elementwise.h"
#include "autodiff/grad_rules.h"
#include "autodiff/shape_rules.h"

namespace gradc {

namespace {
TypeInfo infer_map(const Graph& g, const std::vector<int>& in, const Attrs&) { return map_type(g, in); }

// A map op's rules come from its Def (elementwise.h); every other op's from its own functions,
// named in a generic lambda so that a map op needs none (the lambda is never instantiated).
template <Op op, OpKind kind, class Own>
constexpr InferFn infer_entry(Own own) {
  if constexpr (!is_map_op(op, kind)) {
    return own(0);
  } else if constexpr (requires { Def<op>::custom_infer; }) {
    return own(0);
  } else {
    return &infer_map;
  }
}
template <Op op, OpKind kind, bool diff, class Own>
constexpr GradFn grad_entry(Own own) {
  if constexpr (!diff)
    return nullptr;
  else if constexpr (is_map_op(op, kind))
    return &Def<op>::grad;
  else
    return own(0);
}

constexpr OpInfo kTable[] = {
#define GRADC_ROW(E, name, arity, kind, diff)                         \
  {Op::E,                                                             \
   name,                                                              \
   arity,                                                             \
   OpKind::kind,                                                      \
   diff,                                                              \
   infer_entry<Op::E, OpKind::kind>([](auto) { return &infer_##E; }), \
   grad_entry<Op::E, OpKind::kind, diff>([](auto) { return &grad_##E; })},
    GRADC_OPS(GRADC_ROW)
#undef GRADC_ROW
};
}  // namespace

std::span<const OpInfo> op_table() { return kTable; }
const OpInfo& op_info(Op op) { return kTable[static_cast<size_t>(op)]; }
const char* op_name(Op op) { return op_info(op).name; }
bool is_fused_op(Op op) {
  return op == Op::Dense || op == Op::MatMulMask || op == Op::MatMulUpdate || op == Op::SoftmaxXentGrad;
}

}  // namespace gradc
