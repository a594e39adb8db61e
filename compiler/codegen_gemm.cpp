// GEMM kernels C[M,N] = op(A)·op(B), fully specialised to the static shape, the transposes and the
// kernel's GemmSpec (compiler/schedule.h: lanes, register tile, blocking, packing for the target).
//  - B not transposed ("broadcast" form): an mr-row × nv-vector register tile (6×4 zmm on AVX-512,
//    6×2 ymm on AVX2); per k, one vector load of each B vector and one broadcast of each A element
//    feed mr·nv FMAs. Column tails use masked loads/stores, row tails a second copy of the tile
//    with fewer rows.
//  - B transposed ("dot" form, C = A·Bᵀ): both operands are contiguous along k, so an mr × nv tile
//    of vector accumulators runs along k and is reduced horizontally at the end.
// The parallel unit is a row block (or a slice of columns: GemmSpec::col_parts); every C element is produced by one
// tile in a fixed k order, so results are identical for any thread count.
#include <algorithm>
#include <functional>
#include <stdexcept>

#include "autodiff/shape_rules.h"
#include "compiler/gemm_parts.h"

namespace gradc {

namespace gemm {

std::vector<llvm::Value*> tile_accumulators(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nv,
                                            int64_t last, const KBlock& kb) {
  auto& b = e.b;
  std::vector<llvm::Value*> acc(static_cast<size_t>(mr * nv));
  for (auto& a : acc) {
    a = e.slot(e.vec(), "acc");
    b.CreateStore(llvm::Constant::getNullValue(e.vec()), a);
  }
  if (!is_true(kb.first))  // later K blocks continue from the partial sums in C
    e.if_else(b.CreateNot(kb.first), [&] {
      for (int r = 0; r < mr; ++r)
        for (int v = 0; v < nv; ++v)
          b.CreateStore(e.vload(partial_at(e, g, i0, j0, r, v), v == nv - 1 ? last : g.L),
                        acc[static_cast<size_t>(r * nv + v)]);
    });
  return acc;
}

// The update rules of a finished vector of the product (the plan's update_epilogues), each stored
// to its own buffer after all of them are computed (a rule reads its parameter where it is stored).
void store_outputs(Emitter& e, const Gemm& g, llvm::Value* at, llvm::Value* col, int64_t active, llvm::Value* acc) {
  const std::vector<llvm::Value*> values =
      elementwise_vectors(e, *g.chain.group, g.chain.outputs, g.M * g.N, g.N, at, col, active, {g.chain.product, acc});
  for (size_t o = 0; o < values.size(); ++o) e.vstore(values[o], e.gep(e.base(g.chain.outputs[o]), at), active);
}

// The plan's norm_epilogues: the squares of a tile's values of C (`vals`: each vector with its active
// lanes), added to its parallel unit's partial sum after the last K block (earlier blocks' values are
// partial sums). One accumulator per vector of a row keeps the FMA chains as short as the tile's rows.
void add_squares(Emitter& e, const Gemm& g, const KBlock& kb, const std::vector<std::pair<llvm::Value*, int64_t>>& vals,
                 int nv) {
  if (!g.norm_slot) return;
  auto add = [&] {
    auto& b = e.b;
    llvm::Value* zero = llvm::Constant::getNullValue(e.vec());
    std::vector<llvm::Value*> sq(static_cast<size_t>(nv), zero);
    for (size_t i = 0; i < vals.size(); ++i) {
      auto [v, active] = vals[i];
      if (active < g.L) {  // lanes past C's last column hold whatever the tile computed there
        std::vector<llvm::Constant*> bits;
        for (int l = 0; l < g.L; ++l) bits.push_back(b.getInt1(l < active));
        v = b.CreateSelect(llvm::ConstantVector::get(bits), v, zero);
      }
      llvm::Value*& s = sq[i % static_cast<size_t>(nv)];
      s = fma(e, v, v, s);
    }
    for (size_t i = 1; i < sq.size(); ++i) sq[0] = b.CreateFAdd(sq[0], sq[i]);
    llvm::Value* sum = b.CreateFAddReduce(e.cf(0.f), sq[0]);
    llvm::cast<llvm::Instruction>(sum)->setHasAllowReassoc(true);  // a fixed tree order
    b.CreateStore(b.CreateFAdd(b.CreateLoad(e.f32, g.norm_slot), sum), g.norm_slot);
  };
  if (is_true(kb.last)) return add();
  e.if_else(kb.last, add);
}

void tile_finish(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nv, int64_t last,
                 const KBlock& kb, const std::vector<llvm::Value*>& acc) {
  auto& b = e.b;
  auto active = [&](int v) { return v == nv - 1 ? last : g.L; };
  std::vector<llvm::Value*> bias(static_cast<size_t>(nv), nullptr);
  if (g.bias)
    for (int v = 0; v < nv; ++v)
      bias[static_cast<size_t>(v)] = e.vload(e.gep(g.bias, e.add(j0, e.c64(v * g.L))), active(v));
  if (g.col2im.x) {  // one K block (the plan fuses col2im only then): add each vector into dX
    const std::vector<Window> rows = windows_from(e, g.col2im, i0, mr);
    for (int r = 0; r < mr; ++r) {
      const Window& w = rows[static_cast<size_t>(r)];
      for (int v = 0; v < nv; ++v)
        col2im_add(e, g.col2im, w, e.add(j0, e.c64(v * g.L)),
                   b.CreateLoad(e.vec(), acc[static_cast<size_t>(r * nv + v)]));
    }
    return;
  }
  llvm::Value* lr = g.update_p ? e.splat(g.update_lr) : nullptr;
  std::vector<std::pair<llvm::Value*, int64_t>> stored;  // a plain GEMM's values of C (add_squares)
  // last: whether this is the last K block of a matmul_update or an elementwise epilogue (else
  // the partial sums go to scratch or C).
  auto stores = [&](bool last) {
    for (int r = 0; r < mr; ++r)
      for (int v = 0; v < nv; ++v) {
        llvm::Value* out = b.CreateLoad(e.vec(), acc[static_cast<size_t>(r * nv + v)]);
        if (g.bias || g.relu) out = b.CreateSelect(kb.last, epilogue(e, g, out, bias[static_cast<size_t>(v)]), out);
        if (g.partial && !last) {
          e.vstore(out, partial_at(e, g, i0, j0, r, v), active(v));
          continue;
        }
        llvm::Value* at = c_index(e, g, i0, j0, r, v);
        if (!g.chain.outputs.empty() && last) {
          store_outputs(e, g, at, e.add(j0, e.c64(v * g.L)), active(v), out);
          continue;
        }
        // The SGD step's rounding: the product times lr, subtracted from p (read, then overwritten).
        if (g.update_p) out = b.CreateFSub(e.vload(e.gep(g.update_p, at), active(v)), b.CreateFMul(out, lr));
        if (g.chain.group && last)
          out = elementwise_vector(e, *g.chain.group, g.chain.out, g.M * g.N, g.N, at, e.add(j0, e.c64(v * g.L)),
                                   active(v), {g.chain.product, out});
        if (g.norm_slot) stored.emplace_back(out, active(v));
        e.vstore(out, e.gep(g.C, at), active(v));
      }
  };
  if (!g.update_p && !g.chain.group) {
    stores(false);
    return add_squares(e, g, kb, stored, nv);
  }
  if (is_true(kb.last)) return stores(true);
  e.if_else(
      kb.last, [&] { stores(true); }, [&] { stores(false); });
}

// The windows of a tile's rows when A is a fused im2col read in place (implicit GEMM), and whether
// all of them lie inside the input (then no tap needs a padding check).
struct AWindows {
  std::vector<Window> rows;
  bool inside = false;
};

// The f32 K loop of a tile: per k, nv B vectors and mr broadcasts of A feed mr·nv FMAs.
void tile_k_f32(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nv, int64_t last,
                const KBlock& kb, const BTile& bt, const std::vector<llvm::Value*>& acc, const AWindows* aw = nullptr,
                const std::vector<llvm::Value*>* sums = nullptr) {
  auto& b = e.b;
  auto active = [&](int v) { return v == nv - 1 ? last : g.L; };
  // One k of the block; w is output position k's window when A (read as Aᵀ) or B is a fused im2col.
  auto step = [&](llvm::Value* kk, const Window* w) {
    llvm::Value* k = e.add(kb.k0, kk);
    std::vector<llvm::Value*> bv(static_cast<size_t>(nv));
    for (int v = 0; v < nv; ++v) {
      if (g.cols_b.x && !bt.packed) {  // taps [j0 + v·L, ...) of k's window, read in place
        llvm::Value* tap0 = e.add(j0, e.c64(v * g.L));
        bv[static_cast<size_t>(v)] = is_true(w->inside) ? cols_vector_inside(e, g.cols_b, *w, tap0, active(v))
                                                        : cols_vector(e, g.cols_b, *w, tap0, active(v));
        continue;
      }
      if (bt.packed) {
        bv[static_cast<size_t>(v)] = e.vload(e.gep(bt.base, e.add(e.mul(kk, e.c64(g.TC)), e.c64(v * g.L))), g.L);
        continue;
      }
      llvm::Value* idx = e.add(e.mul(kk, e.c64(g.N)), e.c64(v * g.L));
      bv[static_cast<size_t>(v)] = e.vload(e.gep(bt.base, idx), active(v));
      if (g.mask_b) {
        llvm::Value* midx = e.add(e.add(e.mul(k, e.c64(g.N)), j0), e.c64(v * g.L));
        bv[static_cast<size_t>(v)] =
            apply_mask(e, bv[static_cast<size_t>(v)], e.vload(e.gep(g.mask_b, midx), active(v)));
      }
    }
    if (sums)  // B's column sums (the plan's bias_sums): each loaded vector added once
      for (int v = 0; v < nv; ++v) {
        llvm::Value* slotp = (*sums)[static_cast<size_t>(v)];
        b.CreateStore(b.CreateFAdd(b.CreateLoad(e.vec(), slotp), bv[static_cast<size_t>(v)]), slotp);
      }
    // mr broadcasts of op(A)[i0 + r][k] (load(r)), each feeding nv FMAs.
    auto rows = [&](const std::function<llvm::Value*(int)>& load) {
      for (int r = 0; r < mr; ++r) {
        llvm::Value* a = e.splat(load(r));
        for (int v = 0; v < nv; ++v) {
          llvm::Value* slotp = acc[static_cast<size_t>(r * nv + v)];
          b.CreateStore(fma(e, a, bv[static_cast<size_t>(v)], b.CreateLoad(e.vec(), slotp)), slotp);
        }
      }
    };
    if (kb.apack) return rows([&](int r) { return e.load(kb.apack, e.add(e.mul(kk, e.c64(mr)), e.c64(r))); });
    if (aw)
      return rows([&](int r) {
        return (aw->inside ? cols_inside : cols_at)(e, g.cols_a, aw->rows[static_cast<size_t>(r)], k);
      });
    if (w && g.cols_a.x) {
      // Aᵀ a fused im2col: the rows are taps of k's window, read unchecked when it is inside x.
      auto taps = [&](bool inside) {
        rows([&](int r) { return (inside ? cols_inside : cols_at)(e, g.cols_a, *w, e.add(i0, e.c64(r))); });
      };
      if (is_true(w->inside)) return taps(true);
      return e.if_else(
          w->inside, [&] { taps(true); }, [&] { taps(false); });
    }
    rows([&](int r) { return load_a(e, g, e.add(i0, e.c64(r)), k); });
  };
  // Aᵀ a fused im2col (a first layer's filter gradient colsᵀ·dY) or B one read in place (a second
  // layer's dYᵀ·cols): k runs over output positions, whose windows are walked (one decode per
  // output row) instead of decoded per k: the decode cost as much as the 2 × 6 FMAs of an AVX2 tile.
  const Cols* walked = g.cols_a.x && g.ta && !kb.apack ? &g.cols_a : g.cols_b.x && !bt.packed ? &g.cols_b : nullptr;
  // The tile already carries mr·nv independent FMA chains per k, so unrolling the K loop buys no
  // speed (the models' GEMMs alone within noise) but multiplied the IR: O3 unrolled every tile's K
  // loop, and the dnn step's 9 592 lines of IR were 7 513 without it, compiled in 189-225 instead of
  // 260-339 ms (Zen 5, `gradc compile dnn --no-cache --repeat 4`, three alternating runs).
  if (!walked) return e.rolled_loop(e.c64(0), kb.kn, [&](llvm::Value* kk) { step(kk, nullptr); });
  walk_windows(e, *walked, kb.k0, kb.kn, [&](llvm::Value* kk, const Window& w) { step(kk, &w); });
}

// A matmul_update's epilogue reads p where it writes it: each tile's lines of p are asked for while its
// K loop runs instead of missed on at the end. dnn b128's W1 update (784×100×128, AVX2) measured
// 122-126 µs on two threads with the misses, 104-107 without the read, 108-112 with this prefetch; one
// thread and AVX-512 within noise (Zen 5).
// The same for each state that optimizer rules in the epilogue (the plan's update_epilogues) read
// and write in place.
void prefetch_update(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nv, int64_t last,
                     const KBlock& kb) {
  std::vector<llvm::Value*> bases;
  if (g.update_p) bases.push_back(g.update_p);
  for (int out : g.chain.outputs) bases.push_back(e.base(out));
  auto lines = [&] {
    for (llvm::Value* p : bases)
      for (int r = 0; r < mr; ++r) {  // a row's first and last column of the tile: one line or two
        e.prefetch_write(e.gep(p, c_index(e, g, i0, j0, r, 0)));
        e.prefetch_write(e.gep(p, e.add(c_index(e, g, i0, j0, r, nv - 1), e.c64(last - 1))));
      }
  };
  if (is_true(kb.last)) return lines();
  e.if_else(kb.last, lines);
}

// The column sums of B over a tile's columns (the plan's bias_sums, first row block only): from zero
// in the first K block, else from the partial sums stored after the last one.
std::vector<llvm::Value*> column_sum_slots(Emitter& e, const Gemm& g, llvm::Value* j0, int nv, int64_t last,
                                           const KBlock& kb) {
  std::vector<llvm::Value*> sums(static_cast<size_t>(nv));
  for (int v = 0; v < nv; ++v) {
    sums[static_cast<size_t>(v)] = e.slot(e.vec(), "colsum");
    e.b.CreateStore(llvm::Constant::getNullValue(e.vec()), sums[static_cast<size_t>(v)]);
  }
  if (!is_true(kb.first))
    e.if_else(e.b.CreateNot(kb.first), [&] {
      for (int v = 0; v < nv; ++v)
        e.b.CreateStore(e.vload(e.gep(g.colsum, e.add(j0, e.c64(v * g.L))), v == nv - 1 ? last : g.L),
                        sums[static_cast<size_t>(v)]);
    });
  return sums;
}

// One register tile of the broadcast form: rows [i0, i0+mr), columns [j0, j0 + 16·nv) with the
// last vector holding `last` active lanes, over the K block [k0, k0 + kn). The first K block starts
// from zero, later ones from the partial sums in C; the last one applies the epilogue.
void tile_broadcast(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nv, int64_t last,
                    const KBlock& kb, const BTile& bt) {
  const std::vector<llvm::Value*> acc = tile_accumulators(e, g, i0, j0, mr, nv, last, kb);
  if (g.update_p || !g.chain.outputs.empty()) prefetch_update(e, g, i0, j0, mr, nv, last, kb);
  if (g.colsum_here) {  // the first row block: B's column sums too, stored after every K block
    if (g.bf16 || g.cols_a.x || g.cols_b.x)
      throw std::logic_error("gradc: B's column sums in a GEMM need the f32 K loop over operands in memory");
    const std::vector<llvm::Value*> sums = column_sum_slots(e, g, j0, nv, last, kb);
    tile_k_f32(e, g, i0, j0, mr, nv, last, kb, bt, acc, nullptr, &sums);
    for (int v = 0; v < nv; ++v)
      e.vstore(e.b.CreateLoad(e.vec(), sums[static_cast<size_t>(v)]), e.gep(g.colsum, e.add(j0, e.c64(v * g.L))),
               v == nv - 1 ? last : g.L);
  } else if (g.bf16) {
    tile_k_bf16(e, g, mr, nv, kb, bt, acc);
  } else if (g.cols_a.x && !g.ta && !kb.apack) {
    // Implicit GEMM: each row's window decoded once per tile; the K loop reads x at the taps'
    // offsets, without padding checks when every window of the tile is inside x.
    AWindows aw;
    llvm::Value* all = e.b.getTrue();
    aw.rows = windows_from(e, g.cols_a, i0, mr);
    for (const Window& w : aw.rows) all = e.b.CreateAnd(all, w.inside);
    auto k_loop = [&](bool inside) {
      aw.inside = inside;
      tile_k_f32(e, g, i0, j0, mr, nv, last, kb, bt, acc, &aw);
    };
    e.if_else(
        all, [&] { k_loop(true); }, [&] { k_loop(false); });
  } else {
    tile_k_f32(e, g, i0, j0, mr, nv, last, kb, bt, acc);
  }
  tile_finish(e, g, i0, j0, mr, nv, last, kb, acc);
}

void rows_broadcast(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, const Panel& p) {
  const int64_t full = p.width / g.TC, rem = p.width % g.TC;
  const int nvf = static_cast<int>(g.TC / g.L);
  auto tile = [&](llvm::Value* t, int nv, int64_t last) {
    llvm::Value* j0 = e.add(p.j0, e.mul(t, e.c64(g.TC)));
    BTile bt{p.packed     ? e.gep(e.scratch, e.mul(t, e.mul(g.bf16 ? pairs(e, kb.kn) : kb.kn, e.c64(g.TC))))
             : g.cols_b.x ? nullptr  // read through the windows (tile_k_f32)
                          : e.gep(g.B, e.add(e.mul(kb.k0, e.c64(g.N)), j0)),
             p.packed};
    tile_broadcast(e, g, i0, j0, mr, nv, last, kb, bt);
  };
  if (full > 0) e.loop(e.c64(0), e.c64(full), [&](llvm::Value* t) { tile(t, nvf, g.L); });
  if (rem > 0) {
    const int nv = static_cast<int>((rem + g.L - 1) / g.L);
    tile(e.c64(full), nv, rem - (nv - 1) * g.L);
  }
}

// Copies rows [i0, i0+mr) × K block of op(A) into `dst` as [kn][mr]: the microkernel's broadcasts
// then read one contiguous stream instead of mr rows whose power-of-two strides (K = 512, 1024)
// measured 25-30% slower.
void pack_a(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* dst) {
  e.loop(e.c64(0), kb.kn, [&](llvm::Value* kk) {
    llvm::Value* k = e.add(kb.k0, kk);
    for (int r = 0; r < mr; ++r)
      e.store(load_a(e, g, e.add(i0, e.c64(r)), k), dst, e.add(e.mul(kk, e.c64(mr)), e.c64(r)));
  });
}

// Copies B[k0 .. k0+kn, panel] into scratch as ceil(width/64) tiles of kn × 64 (zero-padded),
// applying the ReLU mask of a matmul_relu_mask on the way.
void pack_panel(Emitter& e, const Gemm& g, const KBlock& kb, const Panel& p) {
  const int64_t tiles = (p.width + g.TC - 1) / g.TC;
  llvm::Value* tile_stride = e.mul(kb.kn, e.c64(g.TC));
  e.loop(e.c64(0), kb.kn, [&](llvm::Value* kk) {
    llvm::Value* src_row = g.cols_b.x ? nullptr : e.add(e.mul(e.add(kb.k0, kk), e.c64(g.N)), p.j0);
    // B a fused im2col: row k is the window of output position k, decoded once for the whole row.
    const Window w = g.cols_b.x ? window_at(e, g.cols_b, e.add(kb.k0, kk)) : Window{};
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t v = 0; v < g.TC / g.L; ++v) {
        const int64_t col = t * g.TC + v * g.L;
        const int64_t active = std::clamp<int64_t>(p.width - col, 0, g.L);
        llvm::Value* dst =
            e.gep(e.scratch, e.add(e.add(e.mul(kk, e.c64(g.TC)), e.mul(e.c64(t), tile_stride)), e.c64(v * g.L)));
        llvm::Value* x = llvm::Constant::getNullValue(e.vec());
        if (active > 0 && g.cols_b.x) {
          x = cols_vector(e, g.cols_b, w, e.add(p.j0, e.c64(col)), active);
        } else if (active > 0) {
          llvm::Value* idx = e.add(src_row, e.c64(col));
          x = e.vload(e.gep(g.B, idx), active);
          if (g.mask_b) x = apply_mask(e, x, e.vload(e.gep(g.mask_b, idx), active));
        }
        e.vstore(x, dst, g.L);
      }
  });
}

// B given as Bᵀ [N, K] (gemm-layout's transpose of B fused into the GEMM): L rows of Bᵀ × L
// consecutive k loaded as L vectors, transposed in registers, stored as L packed rows of L columns.
// K blocks are whole vectors of k but for the last, whose partial vector (K % L of k) is loaded
// masked and stores only its rows. The panel's vectors of columns are a loop, not unrolled: one
// 16×16 transpose per vector is ~100 instructions, and the unrolled panel made mlp512's two such
// GEMMs 6200 lines of IR each (half its compile time).
void pack_panel_transposed(Emitter& e, const Gemm& g, const KBlock& kb, const Panel& p) {
  const int64_t L = g.L, tiles = (p.width + g.TC - 1) / g.TC, full = p.width / L, vecs = tiles * g.TC / L;
  llvm::Value* tile_stride = e.mul(kb.kn, e.c64(g.TC));
  // The packed rows [kk0, kk0 + ks) of the block: ks = L, or the last block's K % L.
  auto k_vector = [&](llvm::Value* kk0, int64_t ks) {
    llvm::Value* k = e.add(kb.k0, kk0);
    // Vector q of the panel: columns [q·L, q·L + rows), stored in tile q / (TC/L) at vector q % (TC/L).
    auto vector = [&](llvm::Value* q, int64_t rows) {
      llvm::Value* col = e.mul(q, e.c64(L));
      std::vector<llvm::Value*> rv;
      for (int64_t l = 0; l < L; ++l) {
        llvm::Value* row = e.add(e.add(p.j0, col), e.c64(l));
        rv.push_back(l < rows ? e.vload(e.gep(g.B, e.add(e.mul(row, e.c64(g.K)), k)), ks)
                              : llvm::Constant::getNullValue(e.vec()));
      }
      if (rows > 0) transpose_tile(e, rv);
      llvm::Value* t = e.b.CreateUDiv(col, e.c64(g.TC));
      llvm::Value* at0 = e.add(e.mul(t, tile_stride), e.b.CreateURem(col, e.c64(g.TC)));
      for (int64_t r = 0; r < ks; ++r) {
        llvm::Value* at = e.add(at0, e.mul(e.add(kk0, e.c64(r)), e.c64(g.TC)));
        e.vstore(rv[static_cast<size_t>(r)], e.gep(e.scratch, at), L);
      }
    };
    if (full > 0) e.loop(e.c64(0), e.c64(full), [&](llvm::Value* q) { vector(q, L); });
    // The last tile's partial vector, then its zero padding.
    for (int64_t q = full; q < vecs; ++q) vector(e.c64(q), std::clamp<int64_t>(p.width - q * L, 0, L));
  };
  llvm::Value* whole = e.b.CreateUDiv(kb.kn, e.c64(L));
  e.loop(e.c64(0), whole, [&](llvm::Value* kq) { k_vector(e.mul(kq, e.c64(L)), L); });
  if (const int64_t tail = g.K % L)  // blocks are whole vectors of k but the last (the schedule's kc)
    e.if_else(e.b.CreateICmpNE(e.b.CreateURem(kb.kn, e.c64(L)), e.c64(0)),
              [&] { k_vector(e.mul(whole, e.c64(L)), tail); });
}

// One tile of the dot form: C[i0+r][j0+c] = Σ_k A[i0+r][k]·B[j0+c][k].
void tile_dot(Emitter& e, const Gemm& g, llvm::Value* i0, llvm::Value* j0, int mr, int nc) {
  auto& b = e.b;
  std::vector<llvm::Value*> acc(static_cast<size_t>(mr * nc));
  for (auto& a : acc) {
    a = e.slot(e.vec(), "acc");
    b.CreateStore(llvm::Constant::getNullValue(e.vec()), a);
  }
  auto body = [&](llvm::Value* k, int64_t active) {
    std::vector<llvm::Value*> av, bv;
    for (int r = 0; r < mr; ++r) {
      llvm::Value* idx = e.add(e.mul(e.add(i0, e.c64(r)), e.c64(g.K)), k);
      av.push_back(e.vload(e.gep(g.A, idx), active));
      if (g.mask_a) av.back() = apply_mask(e, av.back(), e.vload(e.gep(g.mask_a, idx), active));
    }
    for (int c = 0; c < nc; ++c) {
      llvm::Value* idx = e.add(e.mul(e.add(j0, e.c64(c)), e.c64(g.K)), k);
      bv.push_back(e.vload(e.gep(g.B, idx), active));
      if (g.mask_b) bv.back() = apply_mask(e, bv.back(), e.vload(e.gep(g.mask_b, idx), active));
    }
    for (int r = 0; r < mr; ++r)
      for (int c = 0; c < nc; ++c) {
        llvm::Value* slotp = acc[static_cast<size_t>(r * nc + c)];
        b.CreateStore(fma(e, av[static_cast<size_t>(r)], bv[static_cast<size_t>(c)], b.CreateLoad(e.vec(), slotp)),
                      slotp);
      }
  };
  const int64_t kfull = g.K / g.L, krem = g.K % g.L;
  if (kfull > 0) e.loop(e.c64(0), e.c64(kfull), [&](llvm::Value* kb) { body(e.mul(kb, e.c64(g.L)), g.L); });
  if (krem > 0) body(e.c64(kfull * g.L), krem);
  for (int r = 0; r < mr; ++r)
    for (int c = 0; c < nc; ++c) {
      llvm::Value* v = b.CreateLoad(e.vec(), acc[static_cast<size_t>(r * nc + c)]);
      llvm::Value* s = b.CreateFAddReduce(e.cf(0.f), v);
      llvm::cast<llvm::Instruction>(s)->setHasAllowReassoc(true);  // tree order: fixed, not thread-dependent
      llvm::Value* col = e.add(j0, e.c64(c));
      s = epilogue(e, g, s, g.bias ? e.load(g.bias, col) : nullptr);
      e.store(s, g.C, e.add(e.mul(e.add(i0, e.c64(r)), e.c64(g.N)), col));
    }
}

void rows_dot(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, int kNC) {
  const int64_t full = g.N / kNC, rem = g.N % kNC;
  if (full > 0)
    e.loop(e.c64(0), e.c64(full), [&](llvm::Value* jb) { tile_dot(e, g, i0, e.mul(jb, e.c64(kNC)), mr, kNC); });
  if (rem > 0) tile_dot(e, g, i0, e.c64(full * kNC), mr, static_cast<int>(rem));
}

// ta && tb never occurs in the tutorial models; a plain loop keeps it correct.
void row_scalar(Emitter& e, const Gemm& g, llvm::Value* i) {
  auto& b = e.b;
  e.loop(e.c64(0), e.c64(g.N), [&](llvm::Value* j) {
    llvm::Value* acc = e.slot(e.f32);
    b.CreateStore(e.cf(0.f), acc);
    e.loop(e.c64(0), e.c64(g.K), [&](llvm::Value* k) {
      llvm::Value* bidx = e.add(e.mul(j, e.c64(g.K)), k);
      llvm::Value* a = load_a(e, g, i, k);
      llvm::Value* bb = e.load(g.B, bidx);
      if (g.mask_b) bb = apply_mask(e, bb, e.load(g.mask_b, bidx));
      b.CreateStore(b.CreateIntrinsic(llvm::Intrinsic::fma, {e.f32}, {a, bb, b.CreateLoad(e.f32, acc)}), acc);
    });
    llvm::Value* v = epilogue(e, g, b.CreateLoad(e.f32, acc), g.bias ? e.load(g.bias, j) : nullptr);
    e.store(v, g.C, e.add(e.mul(i, e.c64(g.N)), j));
  });
}
}  // namespace gemm

namespace {
using namespace gemm;

// bf16 GEMMs (the plan's bias_sums): B's column sums over one K block of a panel, from the f32 B its
// pack has just read, by the thread holding the first row block; in k order, as the f32 tiles add
// them. The f32 K loop adds them in its tiles instead (column_sum_slots).
void sum_b_block(Emitter& e, const Gemm& g, const KBlock& kb, const Panel& p) {
  const int64_t full = p.width / g.L, rem = p.width % g.L;
  auto column = [&](llvm::Value* c0, int64_t active) {
    llvm::Value* at = e.gep(g.colsum, c0);
    llvm::Value* acc = e.slot(e.vec(), "colsum");
    e.b.CreateStore(e.b.CreateSelect(kb.first, llvm::Constant::getNullValue(e.vec()), e.vload(at, active)), acc);
    e.loop(e.c64(0), kb.kn, [&](llvm::Value* k) {
      llvm::Value* row = e.gep(g.B, e.add(e.mul(e.add(kb.k0, k), e.c64(g.N)), c0));
      e.b.CreateStore(e.b.CreateFAdd(e.b.CreateLoad(e.vec(), acc), e.vload(row, active)), acc);
    });
    e.vstore(e.b.CreateLoad(e.vec(), acc), at, active);
  };
  if (full > 0) e.loop(e.c64(0), e.c64(full), [&](llvm::Value* v) { column(e.add(p.j0, e.mul(v, e.c64(g.L))), g.L); });
  if (rem > 0) column(e.add(p.j0, e.c64(full * g.L)), rem);
}

// The row blocks [e.lo, e.hi) of C = op(A)·op(B) under the kernel's GemmSpec, over the columns
// [j_begin, j_begin + width) (all of C's by default).
void emit_rows(Emitter& e, const Gemm& g, const GemmSpec& blk, llvm::Value* j_begin = nullptr, int64_t width = -1) {
  if (!j_begin) j_begin = e.c64(0);
  if (width < 0) width = g.N;
  const int64_t mr = blk.mr;
  const int64_t full_blocks = g.M / mr, tail = g.M % mr;
  auto& b = e.b;
  // One pass over this thread's row blocks for one K block of one column panel.
  auto pass = [&](const KBlock& kb, const Panel& p) {
    if (p.packed) (g.bf16 ? pack_panel_bf16 : g.b_transposed ? pack_panel_transposed : pack_panel)(e, g, kb, p);
    if (g.colsum && g.bf16) e.if_else(b.CreateICmpEQ(e.lo, e.c64(0)), [&] { sum_b_block(e, g, kb, p); });
    e.loop(e.lo, e.hi, [&](llvm::Value* rb) {
      llvm::Value* i0 = e.mul(rb, e.c64(mr));
      if (g.ta && g.tb) {
        row_scalar(e, g, i0);
        return;
      }
      Gemm gr = g;  // with a sum of squares, one partial per row block (unless per column part)
      if (g.norm && !g.norm_slot) gr.norm_slot = e.gep(g.norm, rb);
      auto rows = [&](int rows_here) {
        if (g.tb) return rows_dot(e, g, i0, rows_here, blk.nv);
        KBlock kr = kb;
        if (blk.pack_a) {
          kr.apack = e.gep(e.scratch, e.c64(blk.a_offset()));
          (g.bf16 ? pack_a_bf16 : pack_a)(e, g, i0, rows_here, kb, kr.apack);
        }
        if (!g.colsum || g.bf16) return rows_broadcast(e, gr, i0, rows_here, kr, p);
        Gemm first = gr;  // the first row block also sums B's columns
        first.colsum_here = true;
        e.if_else(
            b.CreateICmpEQ(rb, e.c64(0)), [&] { rows_broadcast(e, first, i0, rows_here, kr, p); },
            [&] { rows_broadcast(e, gr, i0, rows_here, kr, p); });
      };
      if (tail == 0) return rows(static_cast<int>(mr));
      e.if_else(
          b.CreateICmpSLT(rb, e.c64(full_blocks)), [&] { rows(static_cast<int>(mr)); },
          [&] { rows(static_cast<int>(tail)); });
    });
  };
  // Cache blocking (broadcast form, plan.h): for each column panel, the kc×nc block of B stays in
  // L2 (packed or not) while every row block of this thread sweeps it; partial sums go through C,
  // in the same k order for any thread count.
  const int64_t kc = std::min(blk.kc, g.K), nk = (g.K + kc - 1) / kc, klast = g.K - (nk - 1) * kc;
  auto k_sweep = [&](const Panel& p) {
    if (nk == 1) return pass({e.c64(0), e.c64(g.K), b.getTrue(), b.getTrue()}, p);
    e.loop(e.c64(0), e.c64(nk), [&](llvm::Value* pc) {
      llvm::Value* last = b.CreateICmpEQ(pc, e.c64(nk - 1));
      pass({e.mul(pc, e.c64(kc)), b.CreateSelect(last, e.c64(klast), e.c64(kc)), b.CreateICmpEQ(pc, e.c64(0)), last},
           p);
    });
  };
  // Column panels of nc (B packed, or read in place when schedule.cpp's blocking chose panels for it).
  const int64_t panels = width / blk.nc, rest = width % blk.nc;
  if (panels > 0)
    e.loop(e.c64(0), e.c64(panels), [&](llvm::Value* jp) {
      k_sweep({e.add(j_begin, e.mul(jp, e.c64(blk.nc))), blk.nc, blk.pack});
    });
  if (rest > 0) k_sweep({e.add(j_begin, e.c64(panels * blk.nc)), rest, blk.pack});
}

// All row blocks of g, for kernels whose own range is something else (split-k's chunks, col2im's
// image groups): e.lo/e.hi are set to g's row blocks around emit_rows and restored.
void emit_all_rows(Emitter& e, const Gemm& g, const GemmSpec& blk, llvm::Value* j_begin = nullptr, int64_t width = -1) {
  llvm::Value* lo = e.lo;
  llvm::Value* hi = e.hi;
  e.lo = e.c64(0);
  e.hi = e.c64((g.M + blk.mr - 1) / blk.mr);
  emit_rows(e, g, blk, j_begin, width);
  e.lo = lo;
  e.hi = hi;
}

// Column parts (GemmSpec::col_parts): the range is slices of C's columns, part p the columns
// [p·w, p·w + w) over every row block, the last part what remains of N. Each thread packs only its
// slice of B; every C element is still one tile's sum in a fixed k order.
void emit_column_parts(Emitter& e, const Gemm& g, const GemmSpec& blk) {
  const int64_t w = blk.part_cols(g.L), parts = blk.col_parts, last = g.N - (parts - 1) * w;
  if (last <= 0) throw std::logic_error("gradc: a column part of a GEMM is empty");
  e.loop(e.lo, e.hi, [&](llvm::Value* p) {
    llvm::Value* j_begin = e.mul(p, e.c64(w));
    Gemm gp = g;  // with a sum of squares, one partial per part
    if (g.norm) gp.norm_slot = e.gep(g.norm, p);
    if (last == w) return emit_all_rows(e, gp, blk, j_begin, w);
    e.if_else(
        e.b.CreateICmpEQ(p, e.c64(parts - 1)), [&] { emit_all_rows(e, gp, blk, j_begin, last); },
        [&] { emit_all_rows(e, gp, blk, j_begin, w); });
  });
}

// matmul_split_k: the range is the k chunks; chunk s is the whole op(A)·B GEMM over its k rows of
// B and its k of A (Aᵀ: rows, a pointer offset; A: columns, an offset with A's whole row stride),
// written to slab s of C. Each chunk is computed by one thread in a
// fixed order and the slabs are summed by the next kernel, so results do not depend on threads.
void emit_split_k(Emitter& e, const Gemm& whole, const GemmSpec& blk, int64_t splits) {
  const int64_t K = whole.K, c = split_k_chunk(K, splits), last = K - (splits - 1) * c;
  e.loop(e.lo, e.hi, [&](llvm::Value* s) {
    Gemm g = whole;
    // A fused im2col operand starts its chunk at position s·c instead of at a pointer.
    if (g.cols_a.x)
      g.cols_a.first = e.mul(s, e.c64(c));
    else
      g.A = e.gep(whole.A, e.mul(s, e.c64(whole.ta ? c * whole.M : c)));
    if (!whole.ta) g.lda = K;
    if (g.cols_b.x)
      g.cols_b.first = e.mul(s, e.c64(c));
    else
      g.B = e.gep(whole.B, e.mul(s, e.c64(c * whole.N)));
    g.C = e.gep(whole.C, e.mul(s, e.c64(whole.M * whole.N)));
    auto chunk = [&](int64_t rows_of_k) {
      g.K = rows_of_k;
      emit_all_rows(e, g, blk);
    };
    if (last == c)
      chunk(c);
    else
      e.if_else(
          e.b.CreateICmpEQ(s, e.c64(splits - 1)), [&] { chunk(last); }, [&] { chunk(c); });
  });
}

// The plan's col2im fusion, kernel col2im(op(A)·B): the range is groups of blk.col2im_images
// images. A group zeroes its images of dX, then runs the GEMM over their output positions (A's rows
// from the group's first), each finished tile added into dX (tile_finish). No two threads add into
// one image, and each image's sums run in the same order for any thread count.
void emit_col2im_groups(Emitter& e, const Gemm& whole, const GemmSpec& blk, const Node& col2im) {
  const WindowGeo geo = window_geo(col2im.a.shape, col2im.a);
  const int64_t rows = blk.col2im_images * geo.OH * geo.OW, x_size = blk.col2im_images * geo.H * geo.W * geo.C;
  if (blk.kc < whole.K || whole.N % whole.L || geo.C % whole.L || whole.ta || !whole.A)
    throw std::logic_error("gradc: col2im cannot run in this GEMM's epilogue (one K block, whole vectors of a tap)");
  llvm::Value* dx = e.base(col2im.id);
  e.loop(e.lo, e.hi, [&](llvm::Value* grp) {
    Gemm g = whole;
    g.M = rows;
    g.A = e.gep(whole.A, e.mul(grp, e.c64(rows * whole.K)));
    g.col2im = {dx, geo, e.mul(grp, e.c64(rows))};
    e.b.CreateMemSet(e.gep(dx, e.mul(grp, e.c64(x_size))), e.b.getInt8(0), e.c64(x_size * 4), llvm::MaybeAlign(4));
    emit_all_rows(e, g, blk);
  });
}
}  // namespace

void emit_gemm(Emitter& e, const KernelInfo& k) {
  const Node& out = e.g.node(k.node);
  const bool col2im = out.op == Op::Col2Im;              // the plan fused the GEMM of its columns into it
  const int product = epilogue_gemm(e.g, out, k.fused);  // or an elementwise chain into its epilogue
  const Node& n = col2im ? e.g.node(out.in[0]) : product >= 0 ? e.g.node(product) : out;
  const GemmDims d = gemm_dims(e.g, n);
  // An operand the plan fused: an im2col (read through its window) or B's transpose (read as Bᵀ).
  auto fused_op = [&](int i) {
    const int id = n.in[static_cast<size_t>(i)];
    return std::find(k.fused.begin(), k.fused.end(), id) != k.fused.end() ? e.g.node(id).op : Op::Input;
  };
  auto fused = [&](int i) { return fused_op(i) == Op::Im2Col; };
  const bool bt = fused_op(1) == Op::Transpose;
  Gemm g{e.lanes,
         k.spec.gemm.tile_cols,
         d.M,
         d.N,
         d.K,
         n.a.ta,
         n.a.tb,
         fused(0) ? nullptr : e.base(n.in[0]),
         fused(1) ? nullptr : e.base(bt ? e.g.node(n.in[1]).in[0] : n.in[1]),
         col2im ? nullptr : e.base(k.node)};
  g.b_transposed = bt;
  if (bt && (!k.spec.gemm.pack || !k.spec.gemm.k_blocks_whole_vectors(e.lanes) || n.a.tb || k.spec.gemm.bf16))
    throw std::logic_error("gradc: a transpose fused into " + k.fn + " needs B packed in K blocks of whole vectors");
  if (fused(0)) g.cols_a = cols_operand(e, e.g.node(n.in[0]));
  if (fused(1)) g.cols_b = cols_operand(e, e.g.node(n.in[1]));
  if ((fused(1) && !k.spec.gemm.pack && (g.cols_b.geo.C % e.lanes || k.spec.gemm.kc < k.spec.gemm.K)) ||
      ((fused(0) || fused(1)) && (k.spec.gemm.bf16 || n.a.tb)))
    throw std::logic_error("gradc: an im2col fused into " + k.fn +
                           " needs the f32 broadcast form with B packed, or read in place in whole vectors of "
                           "channels over one K block");
  if (n.op == Op::Dense) {
    g.bias = e.base(n.in[2]);
    g.relu = n.a.relu;
  }
  if (n.op == Op::MatMulMask) (n.a.mask == 1 ? g.mask_a : g.mask_b) = e.base(n.in[2]);
  if (n.op == Op::MatMulUpdate) {
    const GemmSpec& s = k.spec.gemm;
    if (!s.update || s.form != GemmSpec::Broadcast || (s.kc < d.K && !s.partials()))
      throw std::logic_error("gradc: " + k.fn + " (matmul_update) needs the broadcast form, partial sums in scratch");
    g.update_p = e.base(n.in[2]);
    g.update_lr = e.load(e.base(n.in[3]), e.c64(0));
    if (s.partials()) {
      g.partial = e.gep(e.scratch, e.c64(s.partials_offset()));
      g.partial_row0 = e.mul(e.lo, e.c64(s.mr));
    }
  }
  g.bf16 = k.spec.gemm.bf16;
  std::vector<int> chain;  // the elementwise nodes of the epilogue: out and its inlined producers
  if (product >= 0) {
    if (n.op == Op::MatMulUpdate || n.op == Op::MatMulSplitK || k.spec.gemm.form != GemmSpec::Broadcast)
      throw std::logic_error("gradc: " + k.fn + ": an elementwise epilogue needs a plain GEMM in the broadcast form");
    for (int id : k.fused)
      if (const OpKind kind = op_info(e.g.node(id).op).kind; kind == OpKind::Unary || kind == OpKind::Binary ||
                                                             e.g.node(id).op == Op::Reshape ||
                                                             is_chunk_sum(e.g, e.g.node(id)))
        chain.push_back(id);
    chain.push_back(k.node);
    g.chain = {&chain, k.node, product, {}};
    if (k.spec.gemm.update) {  // optimizer rules: each stored to its state
      g.chain.outputs = stored_nodes(e.g, k);
      if (k.spec.gemm.partials()) {
        g.partial = e.gep(e.scratch, e.c64(k.spec.gemm.partials_offset()));
        g.partial_row0 = e.mul(e.lo, e.c64(k.spec.gemm.mr));
      }
    }
  }
  if (k.norm_out >= 0) {
    if (n.op != Op::MatMul || product >= 0 || col2im || k.spec.gemm.form != GemmSpec::Broadcast)
      throw std::logic_error("gradc: " + k.fn + ": a sum of squares in the epilogue needs a plain broadcast-form GEMM");
    g.norm = e.base(k.norm_out);
    e.loop(e.lo, e.hi, [&](llvm::Value* u) { e.store(e.cf(0.f), g.norm, u); });
  }
  if (k.colsum_out >= 0) {
    if ((n.op != Op::MatMul && n.op != Op::MatMulUpdate) || n.a.tb || col2im || bt || fused(0) || fused(1) ||
        k.spec.gemm.form != GemmSpec::Broadcast || (g.bf16 && !k.spec.gemm.pack))
      throw std::logic_error("gradc: " + k.fn + ": B's column sums need a plain broadcast-form op(A)·B");
    g.colsum = e.base(k.colsum_out);
  }
  if (n.op == Op::MatMulSplitK) return emit_split_k(e, g, k.spec.gemm, n.a.splits);
  if (col2im) return emit_col2im_groups(e, g, k.spec.gemm, out);
  if (k.spec.gemm.col_parts > 1) return emit_column_parts(e, g, k.spec.gemm);
  emit_rows(e, g, k.spec.gemm);
}

}  // namespace gradc
