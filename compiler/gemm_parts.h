// The pieces the GEMM emitters share (codegen_gemm.cpp: f32 kernels and the driver of the row
// blocks; codegen_gemm_bf16.cpp: the bf16 packing and K loop). Internal to compiler/.
#pragma once
#include <llvm/IR/Intrinsics.h>

#include <functional>
#include <vector>

#include "autodiff/shape_rules.h"
#include "compiler/emitter.h"

namespace gradc::gemm {

// An operand that is im2col(x) read straight from x while the GEMM runs (implicit GEMM, the plan's
// im2col fusion): row p of the columns is output position p = (b, oh, ow), column t is tap
// t = (kh, kw, c) of p's window, zero where the window reaches into the padding.
struct Cols {
  llvm::Value* x = nullptr;  // null: the operand is a matrix in memory
  WindowGeo geo{};
  llvm::Value* first = nullptr;  // the position of row 0 (a split-k chunk's first k), or null
};

// One output position's window: x's index of its (0, 0) tap (outside x in the padding: used only
// with a tap that is inside), its top-left input row and column, and whether it lies inside x.
struct Window {
  llvm::Value *origin, *ih0, *iw0, *inside;
};

Cols cols_operand(Emitter& e, const Node& im2col);
Window window_at(Emitter& e, const Cols& c, llvm::Value* pos);
// The windows of output positions [p0, p0 + n) (a tile's rows).
std::vector<Window> windows_from(Emitter& e, const Cols& c, llvm::Value* p0, int n);
// A loop over output positions [p0, p0 + n) calling body(i, window of p0 + i): the windows are
// walked, one stride step per position and one decode per output row.
void walk_windows(Emitter& e, const Cols& c, llvm::Value* p0, llvm::Value* n,
                  const std::function<void(llvm::Value*, const Window&)>& body);
// Element `tap` of a window: checked against the padding, or (inside) read without a check.
llvm::Value* cols_at(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap);
llvm::Value* cols_inside(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap);
// Taps [tap0, tap0 + active) of a window as a vector (zeros past active and in the padding), tap0 a
// multiple of the lanes: one load when the vector is a run of channels (C a multiple of the lanes),
// else a masked gather.
llvm::Value* cols_vector(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, int64_t active);
// The same for a window inside x and C a multiple of the lanes: one (masked) load, no check.
llvm::Value* cols_vector_inside(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, int64_t active);
// col2im's half of the same arithmetic (the plan's col2im fusion): adds v, taps [tap0, tap0 + lanes)
// of window w (one run of channels of one tap), into c.x where the tap reads the input; a tap in
// the padding is dropped.
void col2im_add(Emitter& e, const Cols& c, const Window& w, llvm::Value* tap0, llvm::Value* v);

struct Gemm {
  int L;       // f32 lanes per vector
  int64_t TC;  // columns per full register tile = packed tile width
  int64_t M, N, K;
  bool ta, tb;
  llvm::Value *A, *B, *C;
  llvm::Value* mask_a = nullptr;  // matmul_relu_mask: A (or B) elements count only where mask > 0
  llvm::Value* mask_b = nullptr;
  llvm::Value* bias = nullptr;  // dense epilogue: + bias[j], then ReLU when relu
  bool relu = false;
  bool bf16 = false;              // GemmSpec::bf16: operands packed as bf16 pairs, vdpbf16ps
  Cols cols_a = {}, cols_b = {};  // an operand that is a fused im2col (then A or B is null)
  int64_t lda = 0;                // A's row stride when not transposed (0: K; a split-k chunk's: the whole K)
  bool b_transposed = false;      // B given as Bᵀ [N, K] (a fused transpose): packed through register transposes
  // matmul_update epilogue: C = P − acc·lr (P may be C itself: each element is read, then written).
  llvm::Value* update_p = nullptr;
  llvm::Value* update_lr = nullptr;  // the learning rate, a scalar loaded once
  // Where partial sums between K blocks go when not to C: rows from partial_row0 on, N wide (scratch).
  llvm::Value* partial = nullptr;
  llvm::Value* partial_row0 = nullptr;
  // col2im epilogue: C is never written; row p of the tile is output position p (+ first) of
  // col2im.geo, and each finished vector is added into dX = col2im.x (col2im_add).
  Cols col2im = {};
  // Elementwise epilogue (the plan's gemm_epilogues): C holds node `out` = chain(this product),
  // the chain's nodes `group` evaluated on each finished vector after the bias and ReLU.
  // With `outputs` (the plan's update_epilogues): each of those nodes is stored to its own
  // buffer instead (optimizer rules, in place), and C is not written.
  struct Chain {
    const std::vector<int>* group = nullptr;
    int out = -1, product = -1;
    std::vector<int> outputs;
  };
  Chain chain = {};
  // The plan's norm_epilogues: `norm` holds one sum of squares of C per parallel unit; norm_slot is
  // the current unit's, to which each tile adds the squares of its final values.
  llvm::Value* norm = nullptr;
  llvm::Value* norm_slot = nullptr;
  // The plan's bias_sums: the column sums of B go to `colsum`, added up by the first row block's
  // tiles (colsum_here) as they load B, in k order; between K blocks the partial sums sit there.
  llvm::Value* colsum = nullptr;
  bool colsum_here = false;
};

// A K block [k0, k0 + kn) of one pass; `first`/`last` are i1 (constants when K is one block).
struct KBlock {
  llvm::Value* k0;
  llvm::Value* kn;
  llvm::Value* first;
  llvm::Value* last;
  llvm::Value* apack = nullptr;  // this row block's op(A) packed ([kn][mr] f32 or [kn/2][mr] pairs), or null
};

// Where a tile's B vectors come from: B itself (row stride N, masked column tail, ReLU mask applied
// per load) or a packed tile_cols-wide tile in scratch (zero-padded, mask already applied).
struct BTile {
  llvm::Value* base;  // element (k0, j0) of the tile, or its packed copy
  bool packed;
};

// A column panel [j0, j0 + width) of C; packed: its B block sits in scratch as tile_cols-wide tiles.
struct Panel {
  llvm::Value* j0;
  int64_t width;
  bool packed;
};

inline llvm::Value* fma(Emitter& e, llvm::Value* a, llvm::Value* b, llvm::Value* c) {
  return e.b.CreateIntrinsic(llvm::Intrinsic::fma, {a->getType()}, {a, b, c});
}

// x where mask > 0, else 0 (scalars or vectors; the mask is loaded from the same offsets as x).
inline llvm::Value* apply_mask(Emitter& e, llvm::Value* x, llvm::Value* m) {
  llvm::Value* zero = llvm::Constant::getNullValue(x->getType());
  return e.b.CreateSelect(e.b.CreateFCmpOGT(m, zero), x, zero);
}

// op(A)[row][k] as a scalar, zero where a matmul_relu_mask's mask on A is not positive.
inline llvm::Value* load_a(Emitter& e, const Gemm& g, llvm::Value* row, llvm::Value* k) {
  if (g.cols_a.x) return cols_at(e, g.cols_a, window_at(e, g.cols_a, g.ta ? k : row), g.ta ? row : k);
  llvm::Value* idx = g.ta ? e.add(e.mul(k, e.c64(g.M)), row) : e.add(e.mul(row, e.c64(g.lda ? g.lda : g.K)), k);
  llvm::Value* a = e.load(g.A, idx);
  return g.mask_a ? apply_mask(e, a, e.load(g.mask_a, idx)) : a;
}

// The fused epilogue on a finished accumulator (vector or scalar): + bias, ReLU.
inline llvm::Value* epilogue(Emitter& e, const Gemm& g, llvm::Value* acc, llvm::Value* bias) {
  if (bias) acc = e.b.CreateFAdd(acc, bias);
  if (g.relu) {
    llvm::Value* zero = llvm::Constant::getNullValue(acc->getType());
    acc = e.b.CreateSelect(e.b.CreateFCmpOGT(acc, zero), acc, zero);
  }
  return acc;
}

inline bool is_true(llvm::Value* v) {
  return llvm::isa<llvm::ConstantInt>(v) && llvm::cast<llvm::ConstantInt>(v)->isOne();
}

// Index in C of the tile's row r, vector v.
inline llvm::Value* c_index(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int r, int v) {
  return e.add(e.add(e.mul(e.add(i0, e.c64(r)), e.c64(g.N)), j0), e.c64(v * g.L));
}

// Where tile element (r, v)'s partial sum between K blocks lives: C, or the scratch rows of a
// matmul_update (whose C is the parameter, read only by the last block's epilogue).
inline llvm::Value* partial_at(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int r, int v) {
  if (!g.partial) return e.gep(g.C, c_index(e, g, i0, j0, r, v));
  return e.gep(g.partial, c_index(e, g, e.b.CreateSub(i0, g.partial_row0), j0, r, v));
}

// ceil(kn / 2): the k pairs of a K block.
inline llvm::Value* pairs(Emitter& e, llvm::Value* kn) { return e.b.CreateLShr(e.add(kn, e.c64(1)), 1); }

// bf16 (codegen_gemm_bf16.cpp): B's K block packed as [kn/2][tile_cols] words, op(A)'s rows as
// [kn/2][mr] words (each word the pair k, k+1 of one element, k in the low half; an odd block's
// last partner is zero), and the K loop of a tile over those pairs with vdpbf16ps.
void pack_panel_bf16(Emitter& e, const Gemm& g, const KBlock& kb, const Panel& p);
void pack_a_bf16(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* dst);
void tile_k_bf16(Emitter& e, const Gemm& g, int mr, int nv, const KBlock& kb, const BTile& bt,
                 const std::vector<llvm::Value*>& acc);

}  // namespace gradc::gemm
