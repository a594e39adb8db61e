// THE op table. Every op is declared here once; shape inference (shape_rules.cpp), gradient rules
// (grad_rules.cpp), the reference interpreter, the JIT lowering, DOT labels and the tests all iterate
// over this list. An elementwise op (kind Unary or Binary) is defined in one place beside its row:
// autodiff/elementwise.h (arithmetic for every engine + gradient); docs/adding_an_op.md.
// X(Enum, "name", arity, kind, differentiable)
//   differentiable = has a gradient rule; backward-only helper ops (relu_grad, conv2d_grad_*,
//   *_pool2d_grad) have
//   none, which is exactly where second derivatives stop being supported. dense, matmul_relu_mask
//   and softmax_xent_grad are fused ops that only the compiler's fusion passes create, after
//   autodiff has run; allreduce (data-parallel training) is added between gradients and updates;
//   im2col and col2im are made by the conv-gemm pass, which runs convolutions on the GEMM;
//   matmul_split_k (op(A)·B as partial products over equal chunks of k, summed after) by split-k;
//   matmul_update (p − lr·op(A)·B: an SGD step whose gradient is a GEMM) by fuse-update.
#pragma once

#define GRADC_OPS(X)                                        \
  X(Input, "input", 0, Source, false)                       \
  X(Parameter, "parameter", 0, Source, false)               \
  X(Constant, "constant", 0, Source, false)                 \
  X(MatMul, "matmul", 2, Gemm, true)                        \
  X(Add, "add", 2, Binary, true)                            \
  X(Sub, "sub", 2, Binary, true)                            \
  X(Mul, "mul", 2, Binary, true)                            \
  X(Div, "div", 2, Binary, true)                            \
  X(Maximum, "maximum", 2, Binary, true)                    \
  X(Neg, "neg", 1, Unary, true)                             \
  X(Exp, "exp", 1, Unary, true)                             \
  X(Log, "log", 1, Unary, true)                             \
  X(Sqrt, "sqrt", 1, Unary, true)                           \
  X(Square, "square", 1, Unary, true)                       \
  X(Relu, "relu", 1, Unary, true)                           \
  X(Sigmoid, "sigmoid", 1, Unary, true)                     \
  X(Tanh, "tanh", 1, Unary, true)                           \
  X(LeakyRelu, "leaky_relu", 1, Unary, true)                \
  X(Elu, "elu", 1, Unary, true)                             \
  X(Softplus, "softplus", 1, Unary, true)                   \
  X(ReluGrad, "relu_grad", 2, Binary, false)                \
  X(Dropout, "dropout", 2, Unary, true)                     \
  X(Sum, "sum", 1, Reduce, true)                            \
  X(Mean, "mean", 1, Reduce, true)                          \
  X(Broadcast, "broadcast", 1, Layout, true)                \
  X(Reshape, "reshape", 1, Layout, true)                    \
  X(Transpose, "transpose", 1, Layout, true)                \
  X(Softmax, "softmax", 1, Row, true)                       \
  X(LogSoftmax, "log_softmax", 1, Row, true)                \
  X(OneHot, "one_hot", 1, Row, false)                       \
  X(SoftmaxXent, "softmax_xent", 2, Loss, true)             \
  X(SigmoidXent, "sigmoid_xent", 2, Loss, true)             \
  X(Conv2d, "conv2d", 2, Conv, true)                        \
  X(Conv2dGradInput, "conv2d_grad_input", 2, Conv, false)   \
  X(Conv2dGradFilter, "conv2d_grad_filter", 2, Conv, false) \
  X(MaxPool2d, "max_pool2d", 1, Conv, true)                 \
  X(MaxPool2dGrad, "max_pool2d_grad", 2, Conv, false)       \
  X(AvgPool2d, "avg_pool2d", 1, Conv, true)                 \
  X(AvgPool2dGrad, "avg_pool2d_grad", 1, Conv, false)       \
  X(Im2Col, "im2col", 1, Conv, false)                       \
  X(Col2Im, "col2im", 1, Conv, false)                       \
  X(Dense, "dense", 3, Gemm, false)                         \
  X(MatMulMask, "matmul_relu_mask", 3, Gemm, false)         \
  X(MatMulSplitK, "matmul_split_k", 2, Gemm, false)         \
  X(MatMulUpdate, "matmul_update", 4, Gemm, false)          \
  X(SoftmaxXentGrad, "softmax_xent_grad", 3, Row, false)    \
  X(AllReduce, "allreduce", 1, Collective, false)
