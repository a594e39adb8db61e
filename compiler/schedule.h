// The schedule stage: between the passes and codegen, each kernel gets a spec for the target — its
// strategy and every parameter the emitter needs (vector lanes, register tile, cache blocking,
// packing, transpose tile, parallel range, scratch). Codegen reads the spec and decides nothing
// width- or cache-dependent itself. All tile and blocking policy lives in schedule.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/graph.h"
#include "compiler/target.h"

namespace gradc {

// One row of a per-ISA microkernel table: a broadcast-form register tile of mr rows × nv vectors.
struct GemmTile {
  int nv;  // vectors per tile row (columns = nv · lanes)
  int mr;  // rows
};

// A GEMM C[M,N] = op(A)·op(B) kernel. Broadcast form (B not transposed): mr × nv-vector register
// tiles, tile_cols = nv_max · lanes columns per tile; K swept in kc blocks, N in nc panels; with
// `pack`, each kc×nc block of B is copied to per-thread scratch as zero-padded tile_cols-wide tiles.
// Dot form (C = A·Bᵀ): mr × nc_dot tiles of vector accumulators along k, reduced at the end.
struct GemmSpec {
  enum Form { Broadcast, Dot, Scalar } form = Broadcast;
  int64_t M = 0, N = 0, K = 0;
  int mr = 1;              // rows per register tile = the kernel's parallel row block
  int nv = 1;              // broadcast: vectors per full tile; dot: accumulator columns per tile
  int64_t tile_cols = 16;  // broadcast: columns per full tile (nv · lanes), packed tile width
  int64_t kc = 0;          // K block (K: unblocked)
  int64_t nc = 0;          // N panel, a multiple of tile_cols when packed (N: unblocked)
  bool pack = false;       // B blocks packed into scratch
  bool pack_a = false;     // each row block's mr×kc slice of op(A) packed (after the B panel)
  // Both operands packed as bf16 pairs along k (one 32-bit word per pair: the even k in the low
  // half) and multiplied by vdpbf16ps into f32 accumulators; needs pack and pack_a.
  bool bf16 = false;
  // matmul_update or optimizer rules in the epilogue (the plan's update_epilogues): its result is a
  // parameter (updated in place), so over several K blocks the partial sums go to scratch instead,
  // one row of N per row of this thread's row blocks.
  bool update = false;
  // The plan's col2im fusion: the kernel is col2im(C) and never writes C; its parallel unit is a
  // group of this many images, whose finished tiles are added into those images of dX.
  int64_t col2im_images = 0;
  // Column parts: the parallel unit is a slice of part_cols() columns of C over all its rows, not a
  // row block (schedule.cpp's column_parts: few rows per core against a packed B).
  int64_t col_parts = 1;
  // The width of every part but the last: whole vectors of the target's `lanes`.
  int64_t part_cols(int64_t lanes) const { return ((N + col_parts - 1) / col_parts + lanes - 1) / lanes * lanes; }
  int64_t a_offset() const { return pack ? kc * nc : 0; }  // floats
  int64_t partials_offset() const { return a_offset() + (pack_a ? kc * mr : 0); }
  // Every K block but the last is whole vectors of k (what packing a transposed B reads).
  bool k_blocks_whole_vectors(int64_t lanes) const { return kc % lanes == 0 || kc == K; }
  int64_t partials() const { return update && kc < K ? (M + mr - 1) / mr * mr * N : 0; }
  int64_t scratch_bytes() const { return (partials_offset() + partials()) * 4; }
};

// GEMMs with at least this many rows pack their B blocks (when B outgrows half the L2).
inline constexpr int64_t kGemmPackMinRows = 256;

// How a kernel is generated; strategy_name() is what `gradc compile --schedule` prints.
enum class Strategy : uint8_t {
  Copy,             // a parameter update copied at the end of the step
  ElementwiseRows,  // rows × the period of a broadcast operand
  ElementwiseFlat,  // flat chunks of kElementwiseChunk
  GemmBroadcast,    // register tile, B broadcast form (GemmSpec::Broadcast)
  GemmDot,          // dot-product form along k (A·Bᵀ)
  GemmScalar,       // Aᵀ·Bᵀ, scalar
  Reduce,
  Layout,
  TransposeTiles,  // a transpose in square register tiles
  Rows,            // softmax family, losses, one_hot
  ConvDirect,
  HostAllreduce,  // executed by the runtime over MPI
};
const char* strategy_name(Strategy s);
inline bool is_gemm(Strategy s) {
  return s == Strategy::GemmBroadcast || s == Strategy::GemmDot || s == Strategy::GemmScalar;
}

struct KernelSpec {
  Strategy strategy = Strategy::Copy;
  int lanes = 16;     // f32 per vector (the target's)
  int64_t range = 1;  // parallel iteration space
  GemmSpec gemm;      // GEMM kernels only
  int64_t tile = 0;   // transpose: square register tile edge; row ops: rows ≤ this held in one vector
  int64_t scratch_bytes() const { return is_gemm(strategy) ? gemm.scratch_bytes() : 0; }
  // One line with every parameter, for `gradc compile --schedule`.
  std::string describe() const;
};

// The spec of the kernel computing node `n` with the inlined producers `fused`, for target `t`.
KernelSpec schedule_kernel(const Graph& g, const Node& n, const std::vector<int>& fused, const Target& t);

// The broadcast-form microkernel table of a target (widest tile first), and the GEMM spec alone.
std::vector<GemmTile> gemm_tiles(const Target& t);
// `fused`: the kernel's inlined producers; an im2col among them is read in place (implicit GEMM):
// as B it is always packed (the window arithmetic then runs once per packed row), as A never.
GemmSpec schedule_gemm(const Graph& g, const Node& matmul, const Target& t, const std::vector<int>& fused = {});
// Images per parallel group when col2im(matmul) can run in the GEMM's epilogue (the broadcast f32
// form over one K block, every tap's channels whole vectors), else 0. `fused`: the matmul's own.
int64_t col2im_epilogue_images(const Graph& g, const Node& col2im, const Target& t, const std::vector<int>& fused);
// A sum over the leading axis of a few chunks of equal size (split-k's partial products, split-rows'
// partial column sums): elementwise over the chunks, so an elementwise consumer as large reads
// the chunks and adds them where it needs the value (the plan's elementwise_fusion), one kernel
// and one write and read of the sum fewer.
inline constexpr int64_t kChunkSumMax = 8;
bool is_chunk_sum(const Graph& g, const Node& n);
// The GEMM an elementwise kernel computing n runs in its epilogue (the plan's gemm_epilogues: the
// one GEMM among its inlined producers `fused`), or -1.
int epilogue_gemm(const Graph& g, const Node& n, const std::vector<int>& fused);
// Turns a broadcast-form spec into its bf16 form (packed A and B, even K blocks); the target must
// have AVX512_BF16 (std::invalid_argument otherwise).
void use_bf16(GemmSpec& s, const Target& t);

// gemm-layout thresholds for a target (compiler/passes.cpp): A·Bᵀ runs as A·transpose(B) when
// k < dot_min_k or M ≥ dot_max_rows, or M ≥ packed_min_rows with k ≤ packed_max_k; a weight gradient Xᵀ·dY with N ≤
// narrow_n (and M ≥ 4N) runs as (dYᵀ·X)ᵀ. Elementwise view of a kernel computing n (and the inlined producers `fused`):
// rows × cols where cols is the period of the broadcast operands, or — none broadcast — a flat chunk of at most
// kElementwiseChunk elements (the last chunk may be short). The kernel's range is ceil(numel / cols).
inline constexpr int64_t kElementwiseChunk = 4096;
int64_t elementwise_cols(const Graph& g, const Node& n, const std::vector<int>& fused);
// The smallest period of an operand that repeats along the kernel's elements (1 < numel < n's),
// 0 when none does (the flat case).
int64_t elementwise_period(const Graph& g, const Node& n, const std::vector<int>& fused);

struct LayoutRules {
  int64_t dot_min_k, dot_max_rows, narrow_n;
  // With fewer rows than dot_max_rows, A·Bᵀ still runs as A·transpose(B) from packed_min_rows rows
  // on when k fits one packed K block (≤ packed_max_k): the transpose is then read while B is packed.
  int64_t packed_min_rows, packed_max_k;
  int64_t tile_cols;  // the widest register tile's columns: an N that is a multiple wastes no lane
  // Aᵀ·B whose A rows lie a multiple of this many bytes apart, with at least min_rows of them, is
  // run as transpose(A)·B: those rows map to a few cache sets (see gemm_layout in passes.cpp).
  int64_t conflict_stride_bytes, conflict_min_rows;
  // A narrow weight gradient stays row-major while its idle tail lanes over k stay under
  // narrow_keep_idle per element (gemm-layout: its readers, an optimizer's rules, then need no
  // transpose), and fuse-update's SGD step runs in its GEMM's epilogue under narrow_update_idle (it
  // saves the transpose and the update pass); past them the product runs transposed
  // (narrow_update_pays in passes.cpp).
  int64_t lanes, narrow_keep_idle, narrow_update_idle;
};
LayoutRules layout_rules(const Target& t);

}  // namespace gradc
