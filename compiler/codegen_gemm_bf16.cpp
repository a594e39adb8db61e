// The bf16 form of the broadcast GEMM (--precision bf16): both operands are rounded to bf16 once,
// while they are packed, two consecutive k per 32-bit word; vdpbf16ps then multiplies a broadcast
// word of A (rows) with a vector of B words (16 columns) and adds both products into the f32
// accumulator, halving the K loop and the packed bytes. Epilogue and K-block partial sums stay f32.
#include <llvm/IR/IntrinsicsX86.h>

#include "compiler/gemm_parts.h"

namespace gradc::gemm {

namespace {
// f32 -> bf16 bits (in the low half of each i32), rounded to nearest even; NaNs stay NaNs.
llvm::Value* to_bf16_bits(Emitter& e, llvm::Value* x) {
  auto& b = e.b;
  llvm::Type* it = x->getType()->isVectorTy()
                       ? static_cast<llvm::Type*>(llvm::VectorType::get(
                             e.i32, llvm::cast<llvm::VectorType>(x->getType())->getElementCount()))
                       : e.i32;
  auto k = [&](uint32_t v) { return llvm::ConstantInt::get(it, v); };
  llvm::Value* bits = b.CreateBitCast(x, it);
  llvm::Value* odd = b.CreateAnd(b.CreateLShr(bits, k(16)), k(1));
  llvm::Value* rounded = b.CreateLShr(b.CreateAdd(b.CreateAdd(bits, k(0x7fff)), odd), k(16));
  llvm::Value* nan = b.CreateFCmpUNO(x, x);
  return b.CreateSelect(nan, b.CreateOr(b.CreateLShr(bits, k(16)), k(0x40)), rounded);
}

// The word holding the pair (lo, hi): hi's bf16 bits in the upper half.
llvm::Value* pair_word(Emitter& e, llvm::Value* lo, llvm::Value* hi) {
  llvm::Value* h = to_bf16_bits(e, hi);
  return e.b.CreateOr(to_bf16_bits(e, lo), e.b.CreateShl(h, llvm::ConstantInt::get(h->getType(), 16)));
}

// For pair kk2 of the block: k = k0 + 2·kk2, whether k + 1 is inside the block, and k + 1 clamped
// to k when it is not (so no load reaches past the operand).
struct Pair {
  llvm::Value *k, *has_hi, *k_hi;
};
Pair pair_at(Emitter& e, const KBlock& kb, llvm::Value* kk2) {
  llvm::Value* kk = e.mul(kk2, e.c64(2));
  llvm::Value* has = e.b.CreateICmpULT(e.add(kk, e.c64(1)), kb.kn);
  llvm::Value* k = e.add(kb.k0, kk);
  return {k, has, e.b.CreateSelect(has, e.add(k, e.c64(1)), k)};
}
}  // namespace

void pack_panel_bf16(Emitter& e, const Gemm& g, const KBlock& kb, const Panel& p) {
  const int64_t tiles = (p.width + g.TC - 1) / g.TC;
  llvm::Value* n2 = pairs(e, kb.kn);
  llvm::Value* tile_stride = e.mul(n2, e.c64(g.TC));
  llvm::Value* words = e.b.CreateBitCast(e.scratch, e.ptr);
  llvm::Type* wv = llvm::FixedVectorType::get(e.i32, static_cast<unsigned>(g.L));
  e.loop(e.c64(0), n2, [&](llvm::Value* kk2) {
    const Pair pr = pair_at(e, kb, kk2);
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t v = 0; v < g.TC / g.L; ++v) {
        const int64_t col = t * g.TC + v * g.L;
        const int64_t active = std::clamp<int64_t>(p.width - col, 0, g.L);
        llvm::Value* dst = e.b.CreateInBoundsGEP(
            e.i32, words, e.add(e.add(e.mul(kk2, e.c64(g.TC)), e.mul(e.c64(t), tile_stride)), e.c64(v * g.L)));
        llvm::Value* w = llvm::Constant::getNullValue(wv);
        if (active > 0) {
          auto row = [&](llvm::Value* k) {
            llvm::Value* idx = e.add(e.add(e.mul(k, e.c64(g.N)), p.j0), e.c64(col));
            llvm::Value* x = e.vload(e.gep(g.B, idx), active);
            return g.mask_b ? apply_mask(e, x, e.vload(e.gep(g.mask_b, idx), active)) : x;
          };
          llvm::Value* hi = e.b.CreateSelect(pr.has_hi, row(pr.k_hi), llvm::Constant::getNullValue(e.vec()));
          w = pair_word(e, row(pr.k), hi);
        }
        e.b.CreateAlignedStore(w, dst, llvm::Align(4));
      }
  });
}

namespace {
// The scalar packing of pairs [first, n2) of a tile's rows: an im2col A read through its windows,
// or the pairs of a block that pack_a_vectors leaves (fewer than L).
void pack_a_pairs(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* words,
                  llvm::Value* first) {
  e.loop(first, pairs(e, kb.kn), [&](llvm::Value* kk2) {
    const Pair pr = pair_at(e, kb, kk2);
    for (int r = 0; r < mr; ++r) {
      llvm::Value* row = e.add(i0, e.c64(r));
      llvm::Value* hi = e.b.CreateSelect(pr.has_hi, load_a(e, g, row, pr.k_hi), e.cf(0.f));
      e.b.CreateStore(pair_word(e, load_a(e, g, row, pr.k), hi),
                      e.b.CreateInBoundsGEP(e.i32, words, e.add(e.mul(kk2, e.c64(mr)), e.c64(r))));
    }
  });
}

// Aᵀ (a weight gradient Xᵀ·dY): the tile's mr rows of one k are adjacent, so a pair is two masked
// vector loads rounded and interleaved in registers, stored as the pair's mr words at once.
void pack_at_vectors(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* dst) {
  const int w = mr <= 8 ? 8 : 16;
  e.loop(e.c64(0), pairs(e, kb.kn), [&](llvm::Value* kk2) {
    const Pair pr = pair_at(e, kb, kk2);
    auto column = [&](llvm::Value* k) {
      llvm::Value* idx = e.add(e.mul(k, e.c64(g.M)), i0);
      llvm::Value* x = e.vload(e.gep(g.A, idx), mr, w);
      return g.mask_a ? apply_mask(e, x, e.vload(e.gep(g.mask_a, idx), mr, w)) : x;
    };
    llvm::Value* hi = e.b.CreateSelect(pr.has_hi, column(pr.k_hi), llvm::Constant::getNullValue(e.vec(w)));
    llvm::Value* words = e.b.CreateBitCast(pair_word(e, column(pr.k), hi), e.vec(w));
    e.vstore(words, e.gep(dst, e.mul(kk2, e.c64(mr))), mr, w);
  });
}

// A along k: per row, 2·L consecutive k in two vector loads, rounded and narrowed to one vector of
// L pair words (a pair's two bf16 are adjacent halves of its word), scattered to the [pair][mr]
// layout. Returns the first pair left for pack_a_pairs (the block's last, fewer than L).
llvm::Value* pack_a_vectors(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* words) {
  auto& b = e.b;
  const int64_t L = g.L;
  llvm::Value* chunks = b.CreateUDiv(kb.kn, e.c64(2 * L));
  std::vector<int> cat(static_cast<size_t>(2 * L));
  for (int64_t j = 0; j < 2 * L; ++j) cat[static_cast<size_t>(j)] = static_cast<int>(j);
  auto* wide16 = llvm::FixedVectorType::get(b.getInt16Ty(), static_cast<unsigned>(2 * L));
  auto* wv = llvm::FixedVectorType::get(e.i32, static_cast<unsigned>(L));
  std::vector<llvm::Constant*> offsets;  // pair j of the chunk sits j·mr words after pair 0
  for (int64_t j = 0; j < L; ++j) offsets.push_back(b.getInt64(static_cast<uint64_t>(j * mr)));
  llvm::Constant* lane = llvm::ConstantVector::get(offsets);
  e.loop(e.c64(0), chunks, [&](llvm::Value* c) {
    for (int r = 0; r < mr; ++r) {
      llvm::Value* idx =
          e.add(e.mul(e.add(i0, e.c64(r)), e.c64(g.lda ? g.lda : g.K)), e.add(kb.k0, e.mul(c, e.c64(2 * L))));
      auto half = [&](int64_t off) {
        llvm::Value* x = e.vload(e.gep(g.A, e.add(idx, e.c64(off))), L);
        if (g.mask_a) x = apply_mask(e, x, e.vload(e.gep(g.mask_a, e.add(idx, e.c64(off))), L));
        return to_bf16_bits(e, x);
      };
      llvm::Value* both = b.CreateShuffleVector(half(0), half(L), cat);
      llvm::Value* pw = b.CreateBitCast(b.CreateTrunc(both, wide16), wv);
      llvm::Value* base = e.add(e.mul(e.mul(c, e.c64(L)), e.c64(mr)), e.c64(r));
      llvm::Value* at = b.CreateAdd(b.CreateVectorSplat(static_cast<unsigned>(L), base), lane);
      b.CreateMaskedScatter(pw, b.CreateInBoundsGEP(e.i32, words, at), llvm::Align(4));
    }
  });
  return e.mul(chunks, e.c64(L));
}
}  // namespace

void pack_a_bf16(Emitter& e, const Gemm& g, llvm::Value* i0, int mr, const KBlock& kb, llvm::Value* dst) {
  llvm::Value* words = e.b.CreateBitCast(dst, e.ptr);
  if (g.cols_a.x) return pack_a_pairs(e, g, i0, mr, kb, words, e.c64(0));
  if (g.ta) return pack_at_vectors(e, g, i0, mr, kb, dst);
  pack_a_pairs(e, g, i0, mr, kb, words, pack_a_vectors(e, g, i0, mr, kb, words));
}

void tile_k_bf16(Emitter& e, const Gemm& g, int mr, int nv, const KBlock& kb, const BTile& bt,
                 const std::vector<llvm::Value*>& acc) {
  auto& b = e.b;
  llvm::Type* wv = llvm::FixedVectorType::get(e.i32, static_cast<unsigned>(g.L));
  llvm::Type* bv16 = llvm::FixedVectorType::get(b.getBFloatTy(), static_cast<unsigned>(2 * g.L));
  e.loop(e.c64(0), pairs(e, kb.kn), [&](llvm::Value* kk2) {
    std::vector<llvm::Value*> bv(static_cast<size_t>(nv));
    for (int v = 0; v < nv; ++v) {
      llvm::Value* p = b.CreateInBoundsGEP(e.i32, bt.base, e.add(e.mul(kk2, e.c64(g.TC)), e.c64(v * g.L)));
      bv[static_cast<size_t>(v)] = b.CreateBitCast(b.CreateAlignedLoad(wv, p, llvm::Align(4)), bv16);
    }
    for (int r = 0; r < mr; ++r) {
      llvm::Value* w =
          b.CreateLoad(e.i32, b.CreateInBoundsGEP(e.i32, kb.apack, e.add(e.mul(kk2, e.c64(mr)), e.c64(r))));
      llvm::Value* a = b.CreateBitCast(b.CreateVectorSplat(static_cast<unsigned>(g.L), w), bv16);
      for (int v = 0; v < nv; ++v) {
        llvm::Value* slotp = acc[static_cast<size_t>(r * nv + v)];
        llvm::Value* sum = b.CreateIntrinsic(llvm::Intrinsic::x86_avx512bf16_dpbf16ps_512, {},
                                             {b.CreateLoad(e.vec(), slotp), a, bv[static_cast<size_t>(v)]});
        b.CreateStore(sum, slotp);
      }
    }
  });
}

}  // namespace gradc::gemm
