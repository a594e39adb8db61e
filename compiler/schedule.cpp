#include "compiler/schedule.h"

#include <algorithm>
#include <stdexcept>

#include "autodiff/shape_rules.h"

namespace gradc {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// K blocks: the K×N operand is swept in blocks of at most half the core's L2 (the other half holds
// the A rows and C tiles streaming past: 512 KiB of 1 MiB measured best on Zen 4/5). With enough
// rows to amortise it, each kc×nc block of B is packed first (unit-stride streams, no L2 set
// conflicts from power-of-two row strides, no masked loads in the tile).
constexpr int64_t kPackKc = 384;  // kc 256/384/512 × block 384K-768K tried on Zen 5: 384 & 512K best
// A's rows at a stride of a multiple of 2 KiB map to a few L1 sets: measured 150 vs 210 GFLOP/s at
// K = 512 vs 496 (Zen 5). Packing pays only there: elsewhere the copy measured slower.
constexpr int64_t kAliasStride = 2048;
constexpr int64_t kPageBytes = 4096;
constexpr int64_t kCol2ImRows = 2048;
// A narrower register tile replaces the widest that fits N only when it fills this much more.
constexpr double kTileSwitch = 1.1;

// Equal blocks of at most max_block.
int64_t split(int64_t total, int64_t max_block) { return ceil_div(total, ceil_div(total, max_block)); }

// Packed B in blocks of kc rows: panels as wide as half the L2 holds, in whole tiles, over `width`
// columns (0: N).
void packed_panels(GemmSpec& s, const Target& t, int64_t bytes_per_k, int64_t width = 0) {
  const int64_t nc_max = std::max(s.tile_cols, t.l2_bytes / 2 / (s.kc * bytes_per_k) / s.tile_cols * s.tile_cols);
  s.nc = ceil_div(split(width ? width : s.N, nc_max), s.tile_cols) * s.tile_cols;
}

// Split over row blocks, every core packs all of B (a kc×nc block per K block and panel) for its
// own rows; with few rows per core the packing is not amortised: mlp512's input gradients
// dY·Wᵀ (128×512×512, Wᵀ packed through register transposes) ran at 86 % of peak on one thread and
// 74-77 % on two (Zen 5, both targets). Cut into one slice of columns per core instead, each core
// packs only its slice of B and reads all of A (M×K, small when M is). Each slice is at least
// kPartMinTiles full register tiles wide. Not for a matmul_update: its partial sums between K
// blocks live in per-thread scratch indexed by the thread's first row block.
constexpr int64_t kPartMinTiles = 2;
// A B this small costs each core next to nothing to pack whole, and rows keep the split of the
// kernels around it: mlp512 b128's output-layer input gradient 128×512×10 (W3ᵀ read while packed)
// ran 9.5 µs alone on two AVX2 threads by rows, 17-18 in column parts (Zen 5).
constexpr int64_t kPartMinBBytes = 32 << 10;

void column_parts(GemmSpec& s, const Target& t) {
  if (t.cores < 2 || s.form != GemmSpec::Broadcast || !s.pack || s.update || s.M >= t.cores * kGemmPackMinRows ||
      s.N < t.cores * kPartMinTiles * s.tile_cols || s.K * s.N * (s.bf16 ? 2 : 4) < kPartMinBBytes)
    return;
  s.col_parts = t.cores;
  packed_panels(s, t, s.bf16 ? 2 : 4, s.part_cols(t.lanes));
}

void blocking(GemmSpec& s, const Target& t, bool ta, bool cols_a, bool packed_b) {
  s.kc = s.K;
  s.nc = s.N;
  s.pack_a = !cols_a && s.N > s.tile_cols && ((ta ? s.M : s.K) * 4) % kAliasStride == 0;
  const int64_t block = t.l2_bytes / 2;
  // B rows a page or more apart: every k of an unpacked tile's K loop is another page (the tutorial
  // CNN's input gradient, B = [128, 18928], ran at 53 % of peak), so pack once a few row blocks
  // share the panel.
  const bool paged = s.N * 4 >= kPageBytes && s.M >= 4 * s.mr;
  if (!packed_b && !paged && (s.M < kGemmPackMinRows || s.K * s.N * 4 <= block)) {
    // Few rows, B too big for the block: column panels of the whole K when C is too big to pass
    // through the caches once per K block (the tutorial CNN's input gradient [100, 18928] over
    // k = 128 was cut into ten 13-row K blocks, each reading and writing all 7.6 MB of C), else
    // K blocks with the partial sums in C.
    if (s.M * s.N * 4 > block && s.K * s.N * 4 > block && s.K * 4 * s.tile_cols <= block) {
      if (s.K * s.N * 4 > block) s.nc = std::max(s.tile_cols, block / (s.K * 4) / s.tile_cols * s.tile_cols);
      return;
    }
    s.kc = split(s.K, std::max<int64_t>(1, block / (s.N * 4)));
    return;
  }
  s.pack = true;
  s.kc = split(s.K, kPackKc);
  packed_panels(s, t, 4);
}
}  // namespace

void use_bf16(GemmSpec& s, const Target& t) {
  if (!t.bf16 || t.lanes != 16)
    throw std::invalid_argument(
        "gradc: --precision bf16 needs AVX512_BF16 (Zen 4/5, Sapphire Rapids and later), which "
        "target '" +
        t.name + "' (cpu " + t.cpu +
        ") lacks; --target sapphirerapids or znver4 "
        "compiles it on any host");
  // Every operand is converted once, while it is packed: the pairs along k must not straddle a K
  // block, so blocks are even (only the last may be odd: its missing partner is a zero).
  s.bf16 = s.pack = s.pack_a = true;
  s.kc = split(s.K, kPackKc);
  if (s.kc % 2 && s.kc < s.K) ++s.kc;
  packed_panels(s, t, 2, s.col_parts > 1 ? s.part_cols(t.lanes) : 0);
}

std::vector<GemmTile> gemm_tiles(const Target& t) {
  // Accumulators + the nv B vectors + one broadcast fit the register file, with ≥ 12 independent
  // FMA chains (≥ latency 4 × 2 pipes, with slack for the loads).
  if (t.isa == Isa::Avx512) return {{4, 6}, {3, 8}, {2, 12}, {1, 12}};  // 24 + 4 + 1 ≤ 32 zmm
  if (t.isa == Isa::Neon) return {{3, 8}, {2, 12}, {1, 12}};            // 24 + 3 + 1 ≤ 32 q registers
  return {{2, 6}, {1, 12}};                                             // 12 + 2 + 1 ≤ 16 ymm
}

GemmSpec schedule_gemm(const Graph& g, const Node& n, const Target& t, const std::vector<int>& fused) {
  GemmSpec s;
  const GemmDims d = gemm_dims(g, n);
  s.M = d.M;
  s.N = d.N;
  // matmul_split_k: each chunk is a GEMM of its own
  s.K = n.op == Op::MatMulSplitK ? split_k_chunk(d.K, n.a.splits) : d.K;
  if (n.a.tb) {
    s.form = n.a.ta ? GemmSpec::Scalar : GemmSpec::Dot;
    // Dot form: mr × nv vector accumulators + mr + nv operand vectors within the register file.
    s.mr = n.a.ta ? 1 : 4;
    s.nv = t.vector_regs >= 32 ? 4 : 2;
    s.kc = s.K;
    s.nc = s.N;
    return s;
  }
  const std::vector<GemmTile> tiles = gemm_tiles(t);
  s.tile_cols = tiles.front().nv * t.lanes;
  const int64_t want = std::min<int64_t>(tiles.front().nv, ceil_div(s.N, t.lanes));
  GemmTile pick = tiles.back();
  for (const GemmTile& tile : tiles)
    if (tile.nv <= want) {
      pick = tile;
      break;
    }
  // Another tile of the table when it leaves much less of the register tiles idle on this M×N: the
  // 6-row × 64-column tile leaves row and column tails on a filter gradient of 32 or 64 filters ×
  // 144 or 288 taps, which 8 × 48 tiles cover exactly. Its packed B tiles are then as wide.
  auto filled = [&](const GemmTile& tile) {
    const int64_t rows = ceil_div(s.M, tile.mr) * tile.mr, cols = ceil_div(s.N, tile.nv * t.lanes) * tile.nv * t.lanes;
    return static_cast<double>(s.M * s.N) / static_cast<double>(rows * cols) * tile.nv * tile.mr /
           (tiles.front().nv * tiles.front().mr);
  };
  GemmTile best = pick;
  for (const GemmTile& tile : tiles)
    if (tile.nv <= want && filled(tile) > filled(best)) best = tile;
  if (filled(best) > kTileSwitch * filled(pick)) {
    pick = best;
    s.tile_cols = pick.nv * t.lanes;
  }
  s.nv = pick.nv;
  s.mr = pick.mr;
  auto fused_as = [&](int i, Op op) {
    const int id = n.in[static_cast<size_t>(i)];
    return g.node(id).op == op && std::find(fused.begin(), fused.end(), id) != fused.end();
  };
  s.update = n.op == Op::MatMulUpdate;
  // A fused im2col as B, or B's fused transpose, is read while B is packed: always packed.
  blocking(s, t, n.a.ta, fused_as(0, Op::Im2Col), fused_as(1, Op::Im2Col) || fused_as(1, Op::Transpose));
  if (fused_as(1, Op::Im2Col) && !s.bf16 && g.node(g.node(n.in[1]).in[0]).shape[3] % t.lanes == 0) {
    // An im2col B whose taps are whole vectors of channels (a second layer's filter gradient
    // dYᵀ·cols): each tile reads its B vectors from x through the walked windows, no pack. A
    // chunk's windows cover a few input rows (L1), where the packed copy was written to and read
    // back from L2.
    s.pack = false;
    s.kc = s.K;
    s.nc = s.N;
  }
  return s;
}

int64_t col2im_epilogue_images(const Graph& g, const Node& col2im, const Target& t, const std::vector<int>& fused) {
  const Node& mm = g.node(col2im.in[0]);
  if (mm.op != Op::MatMul || mm.a.ta) return 0;
  const GemmSpec s = schedule_gemm(g, mm, t, fused);
  const WindowGeo geo = window_geo(col2im.a.shape, col2im.a);
  if (s.form != GemmSpec::Broadcast || s.kc < s.K || geo.C % t.lanes || s.M != geo.B * geo.OH * geo.OW) return 0;
  // Groups of about kCol2ImRows output positions: their dX (≤ 0.3 MB at 32 channels) stays in L2
  // while the tiles add into it, and B's panel is packed once per group. A divisor of the batch.
  const int64_t per_image = geo.OH * geo.OW;
  int64_t images = std::max<int64_t>(1, std::min(geo.B, kCol2ImRows / per_image));
  while (geo.B % images) --images;
  return images;
}

int64_t elementwise_period(const Graph& g, const Node& n, const std::vector<int>& fused) {
  const int64_t total = n.shape.numel();
  int64_t period = 0;
  auto scan = [&](const Node& m) {
    for (int i : m.in) {
      const int64_t p = g.node(i).shape.numel();
      if (p > 1 && p < total && (period == 0 || p < period)) period = p;
    }
  };
  scan(n);
  for (int f : fused) scan(g.node(f));
  return period;
}

int64_t elementwise_cols(const Graph& g, const Node& n, const std::vector<int>& fused) {
  const int64_t total = n.shape.numel();
  if (const int64_t period = elementwise_period(g, n, fused)) return period;
  // No broadcast operand: one flat loop in chunks (rows of the node's own shape could be as short
  // as 10 elements, e.g. the W[784,10] update, which LLVM then unrolled instead of vectorising).
  return std::max<int64_t>(1, std::min(total, kElementwiseChunk));
}

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::Copy:
      return "copy";
    case Strategy::ElementwiseRows:
      return "elementwise-rows";
    case Strategy::ElementwiseFlat:
      return "elementwise-flat";
    case Strategy::GemmBroadcast:
      return "gemm-broadcast";
    case Strategy::GemmDot:
      return "gemm-dot";
    case Strategy::GemmScalar:
      return "gemm-scalar";
    case Strategy::Reduce:
      return "reduce";
    case Strategy::Layout:
      return "layout";
    case Strategy::TransposeTiles:
      return "transpose-tiles";
    case Strategy::Rows:
      return "rows";
    case Strategy::ConvDirect:
      return "conv-direct";
    case Strategy::HostAllreduce:
      return "host-allreduce";
  }
  return "?";
}

LayoutRules layout_rules(const Target& t) {
  // The dot form reduces along k: k < 2 vectors leaves most lanes idle (9% of peak at k = 10), and
  // below 4 vectors' worth of rows one transpose of B is not amortised. Narrow weight gradients:
  // at most two full tiles wide.
  const int64_t tile_cols = gemm_tiles(t).front().nv * t.lanes;
  // 2 KiB strides: 512×512×1024 measured 71-75% of peak reading A's columns, 3400 -> 2980 µs
  // transposed (AVX-512, 1 thread). A narrow update in the epilogue: dnn's [784, 100] weights (12
  // idle lanes per row of 100) at batch 30 / 48 / 64 / 96 / 128 measured 70 -> 62, 104 -> 102,
  // 133 -> 131, 191 -> 197 and 252 -> 255-269 µs per step; the linear model's [784, 10] (6 idle per
  // 10) at batch 30 9.4 -> 11.9 µs (Zen 5, 1 thread): the break-even is near 8 idle lanes over k
  // per element. That is the rule for keeping a product row-major (narrow_keep_idle). fuse-update's
  // SGD step also saves the update pass, and on two threads the transpose and that pass read what
  // both cores wrote: dnn b128 (AVX-512, 12 idle lanes over k = 128) measured 198-226 -> 182-194 µs
  // on two threads, 262-264 on one either way, 19 -> 16 kernels (three alternating pairs, Zen 5), so
  // the SGD update stays in the epilogue up to 16 (narrow_update_idle).
  // Fewer rows, k in one packed block: dnn b30's input gradient 30×100×100 ran at 48 % of peak in the
  // dot form and 72 % transposed while packed (5.7 -> 3.9 µs), 30×784×100 46 -> 30 µs; two packed K
  // blocks did not pay (30×512×512: 95 -> 108 µs; AVX-512, one thread, Zen 5). Below 16 rows, packing
  // all of B per call is not amortised and the dot form stays.
  return {2 * t.lanes, 4 * t.lanes, 2 * tile_cols, 16, kPackKc, tile_cols, 2048, 256, t.lanes, 8, 16};
}

bool is_chunk_sum(const Graph& g, const Node& n) {
  if (n.op != Op::Sum || n.a.axis != 0) return false;
  const Node& x = g.node(n.in[0]);
  return x.shape.rank >= 2 && x.dtype == DType::F32 && x.shape[0] <= kChunkSumMax &&
         x.shape.numel() == x.shape[0] * n.shape.numel();
}

int epilogue_gemm(const Graph& g, const Node& n, const std::vector<int>& fused) {
  const OpKind k = op_info(n.op).kind;
  if (k != OpKind::Unary && k != OpKind::Binary) return -1;
  for (int id : fused)
    if (op_info(g.node(id).op).kind == OpKind::Gemm) return id;
  return -1;
}

KernelSpec schedule_kernel(const Graph& g, const Node& n, const std::vector<int>& fused, const Target& t) {
  KernelSpec s;
  s.lanes = t.lanes;
  if (const int mm = epilogue_gemm(g, n, fused); mm >= 0) {  // the GEMM's kernel, n's chain in its epilogue
    s.strategy = Strategy::GemmBroadcast;
    s.gemm = schedule_gemm(g, g.node(mm), t, fused);
    // Optimizer rules in the epilogue (the plan's update_epilogues): C is a parameter, so the
    // partial sums between K blocks go to scratch, as a matmul_update's.
    s.gemm.update =
        std::any_of(g.updates().begin(), g.updates().end(), [&](const Graph::Update& u) { return u.value == n.id; });
    column_parts(s.gemm, t);
    s.range = s.gemm.col_parts > 1 ? s.gemm.col_parts : ceil_div(s.gemm.M, s.gemm.mr);
    return s;
  }
  switch (op_info(n.op).kind) {
    case OpKind::Unary:
    case OpKind::Binary: {
      const int64_t cols = elementwise_cols(g, n, fused);
      s.strategy = elementwise_period(g, n, fused) ? Strategy::ElementwiseRows : Strategy::ElementwiseFlat;
      s.range = ceil_div(n.shape.numel(), cols);
      return s;
    }
    case OpKind::Gemm: {
      s.gemm = schedule_gemm(g, n, t, fused);
      s.strategy = s.gemm.form == GemmSpec::Broadcast ? Strategy::GemmBroadcast
                   : s.gemm.form == GemmSpec::Dot     ? Strategy::GemmDot
                                                      : Strategy::GemmScalar;
      if (n.op != Op::MatMulSplitK) column_parts(s.gemm, t);
      s.range = n.op == Op::MatMulSplitK ? n.a.splits
                : s.gemm.col_parts > 1   ? s.gemm.col_parts
                                         : ceil_div(s.gemm.M, s.gemm.mr);
      return s;
    }
    case OpKind::Reduce: {
      s.strategy = Strategy::Reduce;
      if (n.a.axis == -1) return s;
      const Shape& x = g.node(n.in[0]).shape;
      int64_t outer = 1, inner = 1;
      for (int k = 0; k < x.rank; ++k) (k < n.a.axis ? outer : inner) *= (k == n.a.axis ? 1 : x[k]);
      s.range = outer > 1 ? outer : inner;
      return s;
    }
    case OpKind::Layout:
      s.strategy = Strategy::Layout;
      if (n.op == Op::Transpose) {  // square register tiles of one vector per row (codegen_rows.cpp)
        s.strategy = Strategy::TransposeTiles;
        s.tile = t.lanes;
        s.range = ceil_div(n.shape[0], s.tile);
      } else if (n.op == Op::Broadcast && n.a.axis != -1) {  // rows of the elements after the axis
        int64_t inner = 1;
        for (int k = n.a.axis + 1; k < n.shape.rank; ++k) inner *= n.shape[k];
        s.range = n.shape.numel() / inner;
      }
      return s;
    case OpKind::Row:
    case OpKind::Loss:
      // Rows of at most 16 elements (the 10-class logits) are held in one vector value: one zmm, or
      // two ymm (a vector exp on two registers beats a scalar exp per element).
      s.tile = std::max(16, t.lanes);
      s.strategy = Strategy::Rows;
      s.range = op_info(n.op).kind == OpKind::Row ? n.shape.rows() : 1;
      return s;
    case OpKind::Conv:
      if (n.op == Op::Col2Im && std::find(fused.begin(), fused.end(), n.in[0]) != fused.end()) {
        s.strategy = Strategy::GemmBroadcast;  // the GEMM of its columns, col2im in the epilogue
        std::vector<int> own(fused);
        own.erase(std::find(own.begin(), own.end(), n.in[0]));
        s.gemm = schedule_gemm(g, g.node(n.in[0]), t, own);
        s.gemm.col2im_images = col2im_epilogue_images(g, n, t, own);
        if (s.gemm.col2im_images == 0) throw std::logic_error("gradc: col2im fused into a GEMM it cannot follow");
        s.range = n.a.shape[0] / s.gemm.col2im_images;
        return s;
      }
      s.strategy = Strategy::ConvDirect;
      // Rows: (kh, kw, c) of the filter gradient, im2col's output positions, else (b, h) of the output.
      // max_pool2d_grad with disjoint windows scatters from the output's rows (b, oh).
      if (n.op == Op::Conv2dGradFilter)
        s.range = n.shape[0] * n.shape[1] * n.shape[2];
      else if (n.op == Op::Im2Col)
        s.range = n.shape[0];
      else if (n.op == Op::MaxPool2dGrad && windows_disjoint(n.a))
        s.range = n.shape[0] * window_geo(n.shape, n.a).OH;
      else
        s.range = n.shape[0] * n.shape[1];
      return s;
    case OpKind::Source:
      s.range = 0;
      return s;
    case OpKind::Collective:  // the runtime's MPI call on the bucket (runtime/collectives.h)
      s.strategy = Strategy::HostAllreduce;
      s.range = 1;
      return s;
  }
  return s;
}

std::string KernelSpec::describe() const {
  std::string d =
      std::string(strategy_name(strategy)) + " lanes=" + std::to_string(lanes) + " range=" + std::to_string(range);
  if (is_gemm(strategy)) {
    const GemmSpec& m = gemm;
    d += " MxNxK=" + std::to_string(m.M) + "x" + std::to_string(m.N) + "x" + std::to_string(m.K) +
         " tile=" + std::to_string(m.mr) + "x" + std::to_string(m.nv) + (m.form == GemmSpec::Dot ? "acc" : "vec");
    if (m.form == GemmSpec::Broadcast)
      d += " tile_cols=" + std::to_string(m.tile_cols) + " kc=" + std::to_string(m.kc) + " nc=" + std::to_string(m.nc) +
           (m.pack ? " pack-B" : "") + (m.pack_a ? " pack-A" : "") + (m.bf16 ? " bf16" : "") +
           (m.partials() ? " partials-in-scratch" : "") +
           (m.col_parts > 1 ? " column-parts=" + std::to_string(m.col_parts) + "x" + std::to_string(m.part_cols(lanes))
                            : "") +
           (m.col2im_images ? " col2im-epilogue images=" + std::to_string(m.col2im_images) : "");
    if (scratch_bytes()) d += " scratch=" + std::to_string(scratch_bytes()) + "B";
  }
  if (tile) d += " tile=" + std::to_string(tile);
  return d;
}

}  // namespace gradc
