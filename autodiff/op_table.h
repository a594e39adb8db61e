// Op enum and the per-op metadata table generated from op_list.h.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "autodiff/op_list.h"
#include "autodiff/shape.h"

namespace gradc {

enum class Op : uint8_t {
#define GRADC_ENUM(E, name, arity, kind, diff) E,
  GRADC_OPS(GRADC_ENUM)
#undef GRADC_ENUM
};

// What a kernel for the op looks like; the compiler groups by this.
// Collective: executed by the runtime (MPI), not by generated code; the program is cut there.
enum class OpKind : uint8_t { Source, Gemm, Unary, Binary, Reduce, Layout, Row, Loss, Conv, Collective };

enum class Padding : uint8_t { Valid, Same };
enum class Init : uint8_t { None, Zeros, Fill, GlorotUniform, Normal };

// Per-node attributes; each op reads only the fields it documents in shape_rules.cpp. Every field
// is listed once more, in for_each_attr below, and everything that must see all fields (equality,
// the JIT cache key and the CSE key in compiler/code_key.cpp, text dumps) visits that list.
struct Attrs {
  bool ta = false, tb = false;   // matmul: transpose a / b
  int axis = -1;                 // sum/mean/broadcast: axis, -1 = all
  float value = 0.f;             // constant fill; dropout rate; init scale
  uint64_t seed = 0;             // parameter init seed
  bool training = true;          // dropout: false = identity
  int64_t depth = 0;             // one_hot
  Padding pad = Padding::Valid;  // conv2d, max/avg_pool2d
  Init init = Init::None;        // parameter initializer
  Shape shape;                   // reshape / broadcast target shape; *_grad ops: the input's shape
  std::vector<float> data;       // constant contents; empty = filled with `value`
  bool relu = false;             // dense: ReLU epilogue
  int mask = 0;                  // matmul_relu_mask: 1 = operand a masked by input 2 > 0, 2 = operand b
  int64_t slice = 0;             // dropout: the tensor is slice `slice` of a global batch cut in equal
                                 // slices (data-parallel ranks): mask index offset slice·numel
  int bucket = -1;               // allreduce: the gradient bucket it is reduced with (value: scale)
  float alpha = 0.f;             // leaky_relu: the negative slope; elu: the saturation value
  Shape window;                  // max/avg_pool2d, im2col, col2im: [height, width] of the window
  Shape strides;                 // max/avg_pool2d, im2col, col2im: [height, width] steps (pool: the window)
  int64_t splits = 0;            // matmul_split_k: the number of k chunks (partial products)
  bool operator==(const Attrs&) const = default;
};

// THE field list of Attrs: f(name, field) for each field, in declaration order. A field added to
// Attrs changes attrs_field_count() below and trips its static_assert; the test
// OpTable.ForEachAttrVisitsEveryField checks that this list has that many fields.
template <class A, class F>
void for_each_attr(A& a, F&& f) {
  f("ta", a.ta), f("tb", a.tb), f("axis", a.axis), f("value", a.value), f("seed", a.seed);
  f("training", a.training), f("depth", a.depth), f("pad", a.pad), f("init", a.init), f("shape", a.shape);
  f("data", a.data), f("relu", a.relu), f("mask", a.mask), f("slice", a.slice), f("bucket", a.bucket);
  f("alpha", a.alpha), f("window", a.window), f("strides", a.strides), f("splits", a.splits);
}

namespace detail {
struct AnyField {  // converts to any member type: counts an aggregate's fields (unevaluated only)
  template <class T>
  operator T() const;
};
template <class T, class... A>
constexpr size_t field_count() {
  if constexpr (requires { T{A{}..., AnyField{}}; })
    return field_count<T, A..., AnyField>();
  else
    return sizeof...(A);
}
}  // namespace detail
constexpr size_t attrs_field_count() { return detail::field_count<Attrs>(); }
static_assert(attrs_field_count() == 19, "Attrs changed: list the new field in for_each_attr, then update this count");

class Graph;
struct Node;
struct Tensor;

struct TypeInfo {
  Shape shape;
  DType dtype = DType::F32;
};
using InferFn = TypeInfo (*)(const Graph& g, const std::vector<int>& in, const Attrs& a);
// Appends the gradient of each input to `dx` (an invalid Tensor = no gradient for that input).
using GradFn = void (*)(const Node& n, Tensor out, Tensor dy, std::vector<Tensor>& dx);

struct OpInfo {
  Op op;
  const char* name;
  int arity;
  OpKind kind;
  bool differentiable;
  InferFn infer;
  GradFn grad;  // nullptr when !differentiable
};

std::span<const OpInfo> op_table();
const OpInfo& op_info(Op op);
const char* op_name(Op op);
// Ops only the compiler's fusion passes create (they appear after autodiff, so need no gradient).
bool is_fused_op(Op op);

}  // namespace gradc
