// Window arithmetic shared by the pooling and im2col/col2im emitters: NHWC tensors, any window,
// strides and padding, with channels as the contiguous, vectorised axis.
#pragma once
#include <functional>

#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"

namespace gradc::win {

llvm::Value* smax(Emitter& e, llvm::Value* x, llvm::Value* y);
llvm::Value* smin(Emitter& e, llvm::Value* x, llvm::Value* y);

// Positions [first, last) along one axis.
struct Span {
  llvm::Value *first, *last;
};
// Positions [start, start + k) clipped to [0, n).
Span clip(Emitter& e, llvm::Value* start, int64_t k, int64_t n);
// The window of output o (of n_out) along one axis: input positions clipped to [0, n). When no
// window of the axis is clipped (no padding, the last ends inside) it is [o·s, o·s + k), whose
// constant trip count lets the loops over it unroll (Keras's 2×2/2 valid pooling: 2.5× faster).
Span window(Emitter& e, llvm::Value* o, int64_t s, int64_t k, int64_t pad, int64_t n, int64_t n_out);
// The outputs whose window holds input position i along one axis.
Span outputs_of(Emitter& e, llvm::Value* i, int64_t s, int64_t k, int64_t pad, int64_t n_out);

// Flat index of x[bi, ih, iw, 0] in an NHWC tensor of g's input geometry.
llvm::Value* x_index(Emitter& e, const WindowGeo& g, llvm::Value* bi, llvm::Value* ih, llvm::Value* iw);
// Flat index of y[bi, oh, ow, 0] in an NHWC tensor of g's output geometry with `c` channels.
llvm::Value* y_index(Emitter& e, const WindowGeo& g, llvm::Value* bi, llvm::Value* oh, llvm::Value* ow, int64_t c);

// Calls body(offset, active) for each vector of a run of n floats: a loop over the full vectors,
// then one masked tail vector of `active` < lanes (n is a compile-time constant: a channel count).
void chunks(Emitter& e, int64_t n, const std::function<void(llvm::Value*, int64_t)>& body);
// dst[d0 .. d0 + n) = src[s0 .. s0 + n), vectorised.
void copy_run(Emitter& e, llvm::Value* dst, llvm::Value* d0, llvm::Value* src, llvm::Value* s0, int64_t n);

}  // namespace gradc::win
