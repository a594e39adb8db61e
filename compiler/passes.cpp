#include "compiler/passes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <tuple>

#include "autodiff/elementwise.h"
#include "compiler/code_key.h"
#include "compiler/rewriter.h"
#include "compiler/schedule.h"

namespace gradc {

namespace {

// split-k: at most this many chunks, each at least this many rows of k, for results of at most
// this many elements (the chunks' partial products are summed after: splits·MN floats).
constexpr int64_t kSplitKMax = 8, kSplitKMinChunk = 1024, kSplitKMaxOutput = 64 * 1024;

// split-rows: chunks of at least this many rows, for sums over at least this many elements (below,
// the whole sum takes a few µs and one more kernel costs more than it saves).
constexpr int64_t kSplitRowsMax = 8, kSplitRowsMinChunk = 256, kSplitRowsMinElements = 128 * 1024;

// split-rows' chunk count for a column sum of [R, C]: a power of two dividing R (2 or 4 threads
// get equal shares, each chunk as many rows), 1 when the sum is not split.
int64_t split_rows_chunks(int64_t R, int64_t C) {
  if (R * C < kSplitRowsMinElements) return 1;
  int64_t chunks = kSplitRowsMax;
  while (chunks > 1 && (R % chunks || R / chunks < kSplitRowsMinChunk)) chunks /= 2;
  return chunks;
}

// split-k's chunk count for op(A)·B over k rows with an M·N result: a power of two (so 2 or 4
// threads get equal shares), 1 when the product is not split.
int64_t split_k_splits(int64_t K, int64_t MN) {
  int64_t splits = 1;
  while (splits * 2 <= std::min<int64_t>(kSplitKMax, K / kSplitKMinChunk)) splits *= 2;
  return MN <= kSplitKMaxOutput ? splits : 1;
}

// Whether match(x, y) holds for the operands of binary node n in either order (the fusion patterns
// of add and mul, whose operands come in either order); tries (in[0], in[1]) first.
template <class Match>
bool either_order(const Graph& g, const Node& n, Match match) {
  return match(g.node(n.in[0]), g.node(n.in[1])) || match(g.node(n.in[1]), g.node(n.in[0]));
}

bool is_fill(const Node& n) { return n.op == Op::Constant && n.a.data.empty(); }
bool is_fill_value(const Graph& g, int id, float v) { return is_fill(g.node(id)) && g.node(id).a.value == v; }

PassResult dce(const Graph& g) {
  std::vector<char> live(g.size(), 0);
  for (int o : g.outputs()) live[static_cast<size_t>(o)] = 1;
  for (const Graph::Update& u : g.updates())
    live[static_cast<size_t>(u.value)] = live[static_cast<size_t>(u.param)] = 1;
  for (size_t i = g.size(); i-- > 0;)
    if (live[i])
      for (int j : g.node(static_cast<int>(i)).in) live[static_cast<size_t>(j)] = 1;
  Rewriter r(g);
  for (const Node& n : g.nodes())
    if (live[static_cast<size_t>(n.id)] || n.op == Op::Input || n.op == Op::Parameter) r.set_map(n.id, r.copy(n));
  return r.finish();
}

PassResult cse(const Graph& g) {
  Rewriter r(g);
  std::map<std::string, int> seen;
  for (const Node& n : g.nodes()) {
    if (n.op == Op::Input || n.op == Op::Parameter || n.role != Role::Op) {
      r.set_map(n.id, r.copy(n));
      continue;
    }
    std::vector<int> in;
    for (int i : n.in) in.push_back(r.mapped(i));
    const std::string key = node_key(n, in);
    auto it = seen.find(key);
    if (it != seen.end()) {
      r.set_map(n.id, it->second);
      continue;
    }
    const int id = r.copy(n);
    seen.emplace(key, id);
    r.set_map(n.id, id);
  }
  return r.finish();
}

PassResult fold(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    const Graph& d = r.dst();
    bool all_fill = !n.in.empty();
    for (int i : n.in) all_fill &= is_fill(d.node(r.mapped(i)));
    if (all_fill && n.role == Role::Op && n.dtype == DType::F32) {
      const float x = d.node(r.mapped(n.in[0])).a.value;
      const float y = n.in.size() > 1 ? d.node(r.mapped(n.in[1])).a.value : 0.f;
      float v = NAN;
      bool ok = true;
      if (is_map_op(n.op, op_info(n.op).kind))  // exactly as the reference kernels: the op's one definition, in float
        v = apply_elementwise(ScalarMath<float>{}, n.op, x, y, n.a);
      else if (n.op == Op::Broadcast || n.op == Op::Reshape || n.op == Op::Transpose)
        v = x;
      else if (n.op == Op::Mean)
        v = x;
      else if (n.op == Op::Sum)
        v = x * static_cast<float>(n.a.axis == -1 ? g.node(n.in[0]).shape.numel() : g.node(n.in[0]).shape[n.a.axis]);
      else
        ok = false;
      if (ok) {
        Attrs a;
        a.value = v;
        a.shape = n.shape;
        r.set_map(n.id, r.emit(n, Op::Constant, {}, a));
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// f(x, broadcast(v)) -> f(x, v) for an elementwise f when v is a suffix of x's shape (broadcast along
// a new first axis, or of a scalar): elementwise ops broadcast such operands themselves, so the
// full-size broadcast is never written (batch norm's per-channel gradient terms: 11 MB each for a
// first convolution at batch 128). Exact: the same values. -1 when nothing changes.
int unbroadcast(Rewriter& r, const Node& n) {
  if (op_info(n.op).kind != OpKind::Binary || n.op == Op::Dropout) return -1;
  const Graph& d = r.dst();
  std::vector<int> in = {r.mapped(n.in[0]), r.mapped(n.in[1])};
  auto suffix = [&](const Shape& v) {  // what the elementwise ops broadcast (shape_rules' rule)
    if (v.rank > n.shape.rank) return false;
    for (int i = 1; i <= v.rank; ++i)
      if (v[v.rank - i] != n.shape[n.shape.rank - i]) return false;
    return true;
  };
  bool changed = false;
  for (size_t k = 0; k < 2; ++k) {
    const Node& b = d.node(in[k]);
    // Along a new first axis (or of a scalar) only: broadcast along axis 1 of [13] to [13, 13] is
    // also "a suffix" by shape, but repeats x along the rows.
    if (b.op == Op::Broadcast && (b.a.axis == 0 || b.a.axis == -1) && d.node(in[1 - k]).shape == n.shape &&
        b.shape == n.shape && suffix(d.node(b.in[0]).shape))
      in[k] = b.in[0], changed = true;
  }
  return changed ? r.emit(n, n.op, in, n.a) : -1;
}

PassResult simplify(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    const Graph& d = r.dst();
    if (const int u = unbroadcast(r, n); u >= 0) {
      r.set_map(n.id, u);
      continue;
    }
    auto in = [&](size_t k) { return r.mapped(n.in[k]); };
    auto same_shape = [&](int id) { return d.node(id).shape == n.shape; };
    int forward = -1;  // the (new) node this one reduces to
    if (n.role == Role::Op) {
      switch (n.op) {
        case Op::Mul:
          if (is_fill_value(d, in(1), 1.f) && same_shape(in(0)))
            forward = in(0);
          else if (is_fill_value(d, in(0), 1.f) && same_shape(in(1)))
            forward = in(1);
          break;
        case Op::Add:
          if (is_fill_value(d, in(1), 0.f) && same_shape(in(0)))
            forward = in(0);
          else if (is_fill_value(d, in(0), 0.f) && same_shape(in(1)))
            forward = in(1);
          break;
        case Op::Sub:
          if (is_fill_value(d, in(1), 0.f) && same_shape(in(0))) forward = in(0);
          break;
        case Op::Div:
          if (is_fill_value(d, in(1), 1.f) && same_shape(in(0))) forward = in(0);
          break;
        case Op::Neg:
          if (d.node(in(0)).op == Op::Neg) forward = d.node(in(0)).in[0];
          break;
        case Op::Transpose:
          if (d.node(in(0)).op == Op::Transpose) forward = d.node(in(0)).in[0];
          break;
        case Op::Dropout:  // inference (or rate 0) passes x through: its key need not be fed
          if (!n.a.training || n.a.value == 0.f) forward = in(0);
          break;
        case Op::Reshape: {
          int src = in(0);
          while (d.node(src).op == Op::Reshape) src = d.node(src).in[0];
          if (d.node(src).shape == n.shape)
            forward = src;
          else if (src != in(0)) {
            r.set_map(n.id, r.emit(n, Op::Reshape, {src}, n.a));
            continue;
          }
          break;
        }
        default:
          break;
      }
    }
    r.set_map(n.id, forward >= 0 ? forward : r.copy(n));
  }
  return r.finish();
}

// u(reshape(x)) -> reshape(u(x)) for a unary elementwise u, and f(reshape(x), c) -> reshape(f(x, c))
// for a binary one whose other operand c is a scalar or a bias along the last axis that x and the
// reshape share: the conv-gemm pass's reshape of the GEMM's rows [B·OH·OW, F] into [B, OH, OW, F]
// then no longer hides the convolution's bias add and ReLU from fuse-dense's epilogue. Values and
// element order are unchanged (a reshape is a view), so this is exact.
int sunk_operand(const Graph& d, const Node& n, const std::vector<int>& in) {
  const OpKind kind = op_info(n.op).kind;
  if (n.shape.rank == 0 || n.op == Op::Dropout) return -1;
  if (kind != OpKind::Unary && kind != OpKind::Binary) return -1;
  for (size_t s = 0; s < in.size(); ++s) {
    const Node& rs = d.node(in[s]);
    if (rs.op != Op::Reshape || rs.shape != n.shape) continue;
    const Shape& x = d.node(rs.in[0]).shape;
    if (x.rank == 0 || x[x.rank - 1] != n.shape[n.shape.rank - 1]) continue;
    if (in.size() == 1) return static_cast<int>(s);
    const Shape& c = d.node(in[1 - s]).shape;
    if (c.numel() == 1 && c.rank <= 1) return static_cast<int>(s);
    if (c == Shape{n.shape[n.shape.rank - 1]}) return static_cast<int>(s);
  }
  return -1;
}

PassResult sink_reshape(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    std::vector<int> in;
    for (int i : n.in) in.push_back(r.mapped(i));
    const int s = sunk_operand(r.dst(), n, in);
    if (s < 0) {
      r.set_map(n.id, r.copy(n));
      continue;
    }
    in[static_cast<size_t>(s)] = r.dst().node(in[static_cast<size_t>(s)]).in[0];
    const int inner = r.emit(n, n.op, in, n.a);
    r.dst().node(inner).name.clear();  // the name and an output's role stay with the reshape
    if (n.role != Role::Grad) r.dst().node(inner).role = Role::Op;
    Attrs a;
    a.shape = n.shape;
    r.set_map(n.id, r.emit(n, Op::Reshape, {inner}, a));
  }
  return r.finish();
}

// relu_grad(y, max_pool2d_grad(y, dy)) -> max_pool2d_grad(y, relu_grad(max_pool2d(y), dy)). The
// pooling gradient lands only on each window's first maximum, whose value is that window's pooled
// value, so masking dy by the pooled values is exact (a position fed by several windows has the
// same mask in each) and replaces a pass over the feature map by one over the pooled map (a
// quarter of it for 2×2 pooling). Uses the forward pool node, so only where it exists.
PassResult mask_before_pool(const Graph& g) {
  Rewriter r(g);
  std::map<int, std::vector<int>> pools_of;  // input -> its max_pool2d nodes
  for (const Node& n : g.nodes())
    if (n.op == Op::MaxPool2d) pools_of[n.in[0]].push_back(n.id);
  auto forward_pool = [&](const Node& pg) {
    for (int p : pools_of[pg.in[0]])
      if (g.node(p).a == pg.a) return p;
    return -1;
  };
  for (const Node& n : g.nodes()) {
    if (n.op == Op::ReluGrad) {
      const Node& pg = g.node(n.in[1]);
      const int pool = pg.op == Op::MaxPool2dGrad && pg.in[0] == n.in[0] && r.uses(pg.id) == 1 ? forward_pool(pg) : -1;
      if (pool >= 0) {
        const int masked = r.emit(n, Op::ReluGrad, {r.mapped(pool), r.mapped(pg.in[1])}, n.a);
        r.dst().node(masked).name.clear();
        r.set_map(n.id, r.emit(n, Op::MaxPool2dGrad, {r.mapped(n.in[0]), masked}, pg.a));
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// sum over positions of a pooling gradient -> the same sum of the pooled gradient:
// sum(reshape(max_pool2d_grad(y, dy), [B·H·W, C]), 0) -> sum(reshape(dy, [B·OH·OW, C]), 0), and
// avg_pool2d_grad alike. Every pooled element's gradient lands whole on its window's first maximum
// (or is spread over its window in parts that add up to it), so per channel both sums are the same
// sum; the pooled map is a quarter of the feature map for 2×2 pooling. A convolution's bias
// gradient below a pooling layer is such a sum (the convnet's first: 11 MB read -> 2.8 MB).
PassResult pool_grad_sums(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    const bool sum_of_view = n.op == Op::Sum && n.a.axis == 0 && n.shape.rank == 1 && g.node(n.in[0]).op == Op::Reshape;
    if (sum_of_view) {
      const Node& pg = g.node(g.node(n.in[0]).in[0]);
      const bool pool_grad = pg.op == Op::MaxPool2dGrad || pg.op == Op::AvgPool2dGrad;
      if (pool_grad && pg.shape.rank == 4 && pg.shape[3] == n.shape[0]) {
        const int dy = r.mapped(pg.in[pg.op == Op::MaxPool2dGrad ? 1 : 0]);
        Attrs rows;
        rows.shape = Shape{r.dst().node(dy).shape.numel() / n.shape[0], n.shape[0]};
        const int flat = r.inner(r.emit(n, Op::Reshape, {dy}, rows));
        r.set_map(n.id, r.emit(n, Op::Sum, {flat}, n.a));
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// relu_grad(y, dropout(dy, k)) -> relu_grad(dropout(y, k), dy·s), s = 1/(1 − rate), where the
// forward's dropout(y, k) (same key and attributes) exists. It is positive exactly where the mask
// keeps an element and y > 0 (s ≥ 1; NaN compares false either way), and both sides are then
// dy·s, else +0: bit-exact. The gradient draws no mask again and reads the dropped activation the
// next layer reads anyway; y is left to the forward dropout alone, which the GEMM producing y then
// runs in its epilogue (the plan's gemm_epilogues), so y is never written.
PassResult dropout_mask(const Graph& g) {
  Rewriter r(g);
  std::map<std::pair<int, int>, std::vector<int>> dropouts;  // (x, key) -> dropout nodes of x
  for (const Node& n : g.nodes())
    if (n.op == Op::Dropout && n.a.training && n.a.value > 0.f) dropouts[{n.in[0], n.in[1]}].push_back(n.id);
  auto forward_dropout = [&](int y, const Node& masked) {
    for (int d : dropouts[{y, masked.in[1]}])
      if (d != masked.id && g.node(d).a == masked.a) return d;
    return -1;
  };
  for (const Node& n : g.nodes()) {
    const Node* dd = n.op == Op::ReluGrad ? &g.node(n.in[1]) : nullptr;
    const int fwd =
        dd && dd->op == Op::Dropout && dd->a.training && dd->a.value > 0.f ? forward_dropout(n.in[0], *dd) : -1;
    if (fwd >= 0) {
      Attrs c;
      c.value = 1.f / (1.f - dd->a.value);  // the dropout kernels' scale, in float
      c.shape = Shape::scalar();
      const int s = r.inner(r.emit(n, Op::Constant, {}, c));
      const int scaled = r.inner(r.emit(n, Op::Mul, {r.mapped(dd->in[0]), s}, Attrs{}));
      r.set_map(n.id, r.emit(n, Op::ReluGrad, {r.mapped(fwd), scaled}, n.a));
      continue;
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// relu(add(matmul(x, W), b)) and add(matmul(x, W), b) with a [N] bias -> dense.
PassResult fuse_dense(const Graph& g) {
  Rewriter r(g);
  auto dense_parts = [&](int add_id, int& mm, int& bias) {
    const Node& a = g.node(add_id);
    if (a.op != Op::Add || a.role == Role::Grad) return false;
    return either_order(g, a, [&](const Node& m, const Node& b) {
      if (m.op != Op::MatMul || r.uses(m.id) != 1 || b.shape != Shape{a.shape[1]} || a.shape.rank != 2) return false;
      mm = m.id;
      bias = b.id;
      return true;
    });
  };
  for (const Node& n : g.nodes()) {
    int mm = -1, bias = -1;
    if (n.op == Op::Relu && r.uses(n.in[0]) == 1 && g.node(n.in[0]).role == Role::Op &&
        dense_parts(n.in[0], mm, bias)) {
      Attrs a = g.node(mm).a;
      a.relu = true;
      const Node& m = g.node(mm);
      r.set_map(n.id, r.emit(n, Op::Dense, {r.mapped(m.in[0]), r.mapped(m.in[1]), r.mapped(bias)}, a));
      continue;
    }
    if (n.op == Op::Add && dense_parts(n.id, mm, bias)) {
      // Not when a ReLU is the add's only user: that relu is fused above instead.
      const bool relu_next = r.uses(n.id) == 1 && [&] {
        for (const Node& u : g.nodes())
          for (int i : u.in)
            if (i == n.id) return u.op == Op::Relu;
        return false;
      }();
      if (!relu_next) {
        const Node& m = g.node(mm);
        r.set_map(n.id, r.emit(n, Op::Dense, {r.mapped(m.in[0]), r.mapped(m.in[1]), r.mapped(bias)}, m.a));
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// matmul(relu_grad(y, dy), W) -> matmul_relu_mask(dy, W, y, mask a); matmul(X, relu_grad(y, dy)) -> mask b.
PassResult fuse_dense_backward(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    if (n.op == Op::MatMul) {
      const Node& a = g.node(n.in[0]);
      const Node& b = g.node(n.in[1]);
      const int side = a.op == Op::ReluGrad ? 1 : b.op == Op::ReluGrad ? 2 : 0;
      if (side) {
        const Node& rg = side == 1 ? a : b;
        Attrs at = n.a;
        at.mask = side;
        std::vector<int> in = {r.mapped(n.in[0]), r.mapped(n.in[1]), r.mapped(rg.in[0])};
        in[static_cast<size_t>(side - 1)] = r.mapped(rg.in[1]);  // dy replaces relu_grad(y, dy)
        r.set_map(n.id, r.emit(n, Op::MatMulMask, in, at));
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// mul(sub(softmax(L), one_hot(y)), s) with scalar s -> softmax_xent_grad(L, y, s).
PassResult fuse_xent(const Graph& g) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    if (n.op == Op::Mul && n.shape.rank == 2 && either_order(g, n, [&](const Node& diff, const Node& s) {
          if (diff.op != Op::Sub || s.shape.numel() != 1) return false;
          const Node& sm = g.node(diff.in[0]);
          const Node& oh = g.node(diff.in[1]);
          if (sm.op != Op::Softmax || oh.op != Op::OneHot || sm.shape != n.shape) return false;
          Tensor sc{&r.dst(), r.mapped(s.id)};
          if (sc.shape().rank != 0) sc = r.dst().add(Op::Reshape, {sc.id}, Attrs{});
          r.set_map(n.id, r.emit(n, Op::SoftmaxXentGrad, {r.mapped(sm.in[0]), r.mapped(oh.in[0]), sc.id}, {}));
          return true;
        }))
      continue;
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// gemm-layout's narrow rule (below): C = Aᵀ·B with few columns, not whole tiles, or with a
// convolution's columns as A, runs as Cᵀ = Bᵀ·A.
bool swaps_narrow(const Graph& g, const Node& n, const LayoutRules& rules) {
  return n.a.ta && !n.a.tb && n.shape[0] >= 4 * n.shape[1] &&
         (g.node(n.in[0]).op == Op::Im2Col || (n.shape[1] <= rules.narrow_n && n.shape[1] % rules.tile_cols != 0));
}

// A narrow C = op(A)·B, k long, kept row-major: each element of C leaves the idle lanes of its
// vector (the column tail) busy for k FMAs, where the transposed product spends a transpose (and,
// when the update runs in the epilogue, an update pass) on it: about idle_limit lanes' worth over k.
bool narrow_update_pays(const Node& n, int64_t k, const LayoutRules& rules, int64_t idle_limit) {
  const int64_t cols = n.shape[1], idle = (cols + rules.lanes - 1) / rules.lanes * rules.lanes - cols;
  return k * idle <= idle_limit * cols;
}

// How many tensors the step updates from `grad` through elementwise ops alone: the weights and
// each optimizer state its rules keep (SGD 1, momentum, Adagrad and RMSprop 2, Adam 3).
int updated_from(const Graph& g, int grad) {
  std::vector<char> reads(g.size(), 0);  // reads grad through elementwise ops (ids are topological)
  reads[static_cast<size_t>(grad)] = 1;
  for (const Node& m : g.nodes()) {
    const OpKind kind = op_info(m.op).kind;
    if (kind == OpKind::Unary || kind == OpKind::Binary)
      for (int i : m.in) reads[static_cast<size_t>(m.id)] |= reads[static_cast<size_t>(i)];
  }
  int updated = 0;
  for (const Graph::Update& u : g.updates()) updated += reads[static_cast<size_t>(u.value)];
  return updated;
}

// The rules' epilogue reads and writes each updated tensor in place, a tile's rows at a time: with
// the weights and one state (momentum, Adagrad, RMSprop) that ran like their pass over dW; Adam's two
// states made dnn b128's dW1 GEMM 784×100×128 159-175 µs where the transposed GEMM, the transpose
// and the rules' pass took 121-131 µs on one thread, and the 2-thread step no faster (Zen 5).
constexpr int kEpilogueMaxUpdated = 2;

// A narrow weight gradient read only by elementwise ops (an optimizer's rules) stays row-major while
// that pays: swapped, the rules would run over dW's transpose. Where the plan runs them in the GEMM's
// epilogue (its update_epilogues; PassContext::epilogues) that also saves their pass over dW, as
// fuse-update's SGD step does, and the same break-even applies (narrow_update_idle) while the
// rules update few tensors. With global-norm clipping the fused step's rules stay one pass, over the
// row-major dW, and that too ran as fast on one thread and faster on two (dnn b128, Adagrad, clip 5:
// 270-278 -> 274 µs, 223 -> 188-194 µs; Zen 5). In the unfused step the rules are passes of their own
// and only the transpose is saved (narrow_keep_idle): dnn b128 momentum unfused measured 298-300 ->
// 352-354 µs on one thread with the larger allowance.
bool keeps_rules_in_epilogue(const Rewriter& r, const Node& n, const LayoutRules& rules, bool epilogues) {
  const Graph& g = r.src();
  const int64_t k = g.node(n.in[1]).shape[0];
  const bool in_epilogue = epilogues && updated_from(g, n.id) <= kEpilogueMaxUpdated;
  const int64_t idle = in_epilogue ? rules.narrow_update_idle : rules.narrow_keep_idle;
  if (g.node(n.in[0]).op == Op::Im2Col || !narrow_update_pays(n, k, rules, idle) ||
      split_k_splits(k, n.shape.numel()) > 1)
    return false;
  const std::vector<int>& readers = r.readers(n.id);
  return !readers.empty() && std::all_of(readers.begin(), readers.end(), [&](int c) {
    const OpKind kind = op_info(g.node(c).op).kind;
    return kind == OpKind::Unary || kind == OpKind::Binary;
  });
}

// The SGD update p − lr·(op(A)·B) of a parameter whose gradient is one GEMM (a dense layer's
// weights: Xᵀ·dY) -> matmul_update: the update runs in the GEMM's epilogue and the gradient is
// never written (the plan runs it in place on p). Not where split-k would cut the product over k
// for the second core, nor on a convolution's columns, nor on a narrow gradient that gemm-layout
// would run transposed once k is long (the epilogue writes p row-major): there the lanes the
// row-major tiles leave idle cost more than the transpose and the separate update pass.
PassResult fuse_update(const Graph& g, const PassContext& c) {
  const LayoutRules rules = layout_rules(c.target);
  Rewriter r(g);
  std::vector<char> updated(g.size(), 0);
  for (const Graph::Update& u : g.updates())
    if (g.node(u.value).op == Op::Sub && g.node(u.value).in[0] == u.param) updated[static_cast<size_t>(u.value)] = 1;
  auto gradient_gemm = [&](const Node& m, int& mm, int& lr) {
    return either_order(g, m, [&](const Node& d, const Node& s) {
      if (d.op != Op::MatMul || d.a.tb || r.uses(d.id) != 1 || s.shape.numel() != 1 || s.dtype != DType::F32)
        return false;
      if (g.node(d.in[0]).op == Op::Im2Col || g.node(d.in[1]).op == Op::Im2Col) return false;
      if (swaps_narrow(g, d, rules) &&
          !narrow_update_pays(d, g.node(d.in[1]).shape[0], rules, rules.narrow_update_idle))
        return false;
      if (split_k_splits(g.node(d.in[1]).shape[0], d.shape.numel()) > 1) return false;
      mm = d.id;
      lr = s.id;
      return true;
    });
  };
  for (const Node& n : g.nodes()) {
    int mm = -1, lr = -1;
    if (updated[static_cast<size_t>(n.id)] && g.node(n.in[1]).op == Op::Mul && r.uses(n.in[1]) == 1 &&
        gradient_gemm(g.node(n.in[1]), mm, lr)) {
      const Node& d = g.node(mm);
      r.set_map(n.id, r.emit(n, Op::MatMulUpdate,
                             {r.mapped(d.in[0]), r.mapped(d.in[1]), r.mapped(n.in[0]), r.mapped(lr)}, d.a));
      continue;
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// C = op(A)·Bᵀ: the dot-product GEMM form reduces along k, so a k of under two vectors leaves most
// lanes idle (measured 9% of peak at k = 10 on AVX-512), and even long k reached only 50-65%.
// Transposing B once (k·n elements, register tiles) lets the broadcast form vectorise along n
// instead; below four vectors' worth of rows a transpose kernel is not amortised and the dot form
// stays, unless k fits one packed K block: the plan then reads the transpose while packing B
// (packed_transposes), no kernel of its own. The thresholds are the target's (layout_rules in
// schedule.cpp).
PassResult gemm_layout(const Graph& g, const PassContext& c) {
  const LayoutRules rules = layout_rules(c.target);
  Rewriter r(g);
  // A node the rewrite introduces (a transpose or the swapped product), at n's source location.
  auto add_at = [&r](const Node& n, Op op, std::vector<int> in, const Attrs& a) {
    const int id = r.dst().add(op, std::move(in), a).id;
    r.dst().node(id).where = n.where;
    return id;
  };
  for (const Node& n : g.nodes()) {
    if (op_info(n.op).kind == OpKind::Gemm && n.a.tb && n.op != Op::MatMulMask) {
      const Shape& bs = g.node(n.in[1]).shape;  // [N, K]
      const int64_t m = n.shape[0], k = bs[1];
      if (k < rules.dot_min_k || m >= rules.dot_max_rows || (m >= rules.packed_min_rows && k <= rules.packed_max_k)) {
        Attrs a = n.a;
        a.tb = false;
        std::vector<int> in;
        for (int i : n.in) in.push_back(r.mapped(i));
        in[1] = add_at(n, Op::Transpose, {in[1]}, Attrs{});
        r.set_map(n.id, r.emit(n, n.op, in, a));
        continue;
      }
    }
    // C = Aᵀ·B with a narrow C (the weight gradient Xᵀ·dY of a layer with few units): register
    // tiles span 64 (AVX-512) or 16 (AVX2) columns, so N = 10 or 100 leaves lanes idle. Cᵀ = Bᵀ·A is as wide as C is
    // tall; one transpose of the small result puts it back. An N of whole tiles (128) idles no lane:
    // the tutorial CNN's 18928×128 weight gradient spent 830 µs transposing its result back. A
    // convolution's columns are swapped whatever N: as B they are read in place through packed
    // rows, one window decode per position, where as Aᵀ every row block decodes every window again
    // (the convnet's 288×64 filter gradient on AVX2, 64 filters wider than narrow_n: 32 % of peak
    // as Aᵀ, 90 % swapped).
    if (n.op == Op::MatMul && swaps_narrow(g, n, rules) && !keeps_rules_in_epilogue(r, n, rules, c.epilogues)) {
      const int ct = add_at(n, Op::MatMul, {r.mapped(n.in[1]), r.mapped(n.in[0])}, n.a);
      r.set_map(n.id, add_at(n, Op::Transpose, {ct}, Attrs{}));
      continue;
    }
    // C = Aᵀ·B where A's rows are a multiple of 2 KiB apart (A = X [1024, 512] for a 512-wide
    // layer's weight gradient): reading A's columns then defeats the caches and the prefetcher
    // (512×512×1024 at 71-75% of peak). Transposing A once (2 MiB, 125 µs) and multiplying
    // row-major measured 3400 -> 2980 µs on 1 thread.
    if ((n.op == Op::MatMul || n.op == Op::MatMulUpdate) && n.a.ta && !n.a.tb &&
        (n.shape[0] * 4) % rules.conflict_stride_bytes == 0 && g.node(n.in[0]).shape[0] >= rules.conflict_min_rows) {
      Attrs a = n.a;
      a.ta = false;
      std::vector<int> in;
      for (int i : n.in) in.push_back(r.mapped(i));
      in[0] = add_at(n, Op::Transpose, {in[0]}, Attrs{});
      r.set_map(n.id, r.emit(n, n.op, in, a));
      continue;
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// owner-computes for a weight that the step updates in place and that only its forward GEMM reads,
// or that and the input gradient dY·Wᵀ through gemm-layout's transpose of W (a hidden layer). Split over row blocks,
// that GEMM has every core read all of W, and each core's share of the update then invalidates the other core's copy
// line by line: dnn b128's W1 [784, 100] update measured 3.6 µs alone and 28 µs inside the 2-thread step, the next
// forward GEMM 52 µs alone and 68 µs in the step (Zen 5). Cut over k into one chunk per core, core
// c reads only rows [c·K/P, (c+1)·K/P) of W, about the rows its share of the update writes (a
// matmul_update splits W by row blocks, an elementwise update by flat chunks: within a few rows of
// the same cut), and the partial products cross between the cores instead:
// P·M·N floats, at most W's size. Small weights (under kOwnerMinBytes) are left alone: a few
// shared lines cost less than the partial sums' kernel. The input gradient's columns are W's rows:
// with few rows it runs in column parts, one per core (schedule.cpp's column_parts), so each core
// packs the rows of W it owns there too — mlp512 b128's 2-thread step measured 2193-2282 ->
// 2087-2171 µs on AVX-512 and 4138-4609 -> 3879-4009 µs on AVX2 with both (Zen 5).
constexpr int64_t kOwnerMinBytes = 64 * 1024, kOwnerMinChunk = 128;

int64_t owner_splits(const Graph& g, const Node& n, const Rewriter& r, const Target& t) {
  const Node& w = g.node(n.in[1]);
  if (n.a.ta || w.op != Op::Parameter || t.cores < 2) return 1;
  int transposes = 0;  // Wᵀ as the B of one GEMM (the input gradient)
  for (const Node& m : g.nodes())
    transposes += m.op == Op::MatMul && !m.a.tb && g.node(m.in[1]).op == Op::Transpose &&
                  g.node(m.in[1]).in[0] == w.id && r.uses(m.in[1]) == 1;
  if (transposes > 1 || r.uses(w.id) != 2 + transposes) return 1;
  bool in_place = false;
  for (const Graph::Update& u : g.updates()) {
    const Node& v = g.node(u.value);
    in_place |=
        u.param == w.id && ((v.op == Op::Sub && v.in[0] == w.id) || (v.op == Op::MatMulUpdate && v.in[2] == w.id));
  }
  int64_t splits = 1;
  while (splits * 2 <= t.cores) splits *= 2;
  const int64_t K = w.shape[0], M = n.shape[0];
  const bool pays = K * w.shape[1] * 4 >= kOwnerMinBytes && K / splits >= kOwnerMinChunk && splits * M <= K;
  return in_place && pays ? splits : 1;
}

// C = op(A)·B over a long k with a small C: the weight gradients of convolutions (Aᵀ·B, k = B·OH·OW,
// 86528 for a first layer at batch 128, C as small as 9×16) and a dense layer over a long flattened
// input (the tutorial CNN's [100, 18928]·[18928, 128]). Split over row blocks, such a GEMM runs on
// one thread (M = 9) or has every thread re-read all of B (9.7 MB for the CNN). Cut k into chunks
// computed independently (matmul_split_k, one chunk per range index) and sum the partial products
// (a reduce over the chunks); a dense layer's bias and ReLU follow the sum. The order is fixed, so
// results do not depend on the thread count. Also a first layer's forward GEMM, one chunk per core
// (owner_splits above).
PassResult split_k(const Graph& g, const PassContext& c) {
  Rewriter r(g);
  for (const Node& n : g.nodes()) {
    const bool gemm = n.op == Op::MatMul || n.op == Op::Dense;
    if (gemm && !n.a.tb) {
      int64_t splits = split_k_splits(g.node(n.in[1]).shape[0], n.shape.numel());
      if (splits < 2) splits = owner_splits(g, n, r, c.target);
      if (splits >= 2) {
        // Only the last node of the replacement keeps n's name and role.
        Attrs a;
        a.ta = n.a.ta;
        a.splits = splits;
        const int parts = r.inner(r.emit(n, Op::MatMulSplitK, {r.mapped(n.in[0]), r.mapped(n.in[1])}, a));
        Attrs sum;
        sum.axis = 0;
        int out = r.emit(n, Op::Sum, {parts}, sum);
        if (n.op == Op::Dense) out = r.emit(n, Op::Add, {r.inner(out), r.mapped(n.in[2])}, Attrs{});
        if (n.op == Op::Dense && n.a.relu) out = r.emit(n, Op::Relu, {r.inner(out)}, Attrs{});
        r.set_map(n.id, out);
        continue;
      }
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// A column sum (sum or mean over axis 0) of a tall [R, C]: batch norm's statistics and gradients
// and a convolution's bias gradient over every position of the batch ([86528, 32] for the
// convnet's first layer). Its kernel splits the columns between the threads, so each core reads a
// cache line of every row, half of them written by the other core's share of the producer (split
// by rows): the convnet --batch-norm step's column sums took 2.3 ms inside 2-thread steps against
// 0.85 ms alone. As fixed chunks of rows, each summed whole (a reduce over axis 1 of
// [S, R/S, C], chunk s on the thread that produced those rows), then the S partial sums (a small
// reduce over axis 0). The order is fixed, so results do not depend on the thread count.
PassResult split_rows(const Graph& g) {
  Rewriter r(g);
  // Not a bias gradient whose dY is B of its weight gradient's GEMM Xᵀ·dY: the plan's bias_sums
  // has that GEMM sum the columns as it loads dY, with no pass of its own.
  auto summed_by_gemm = [&](const Node& n) {
    const std::vector<int>& readers = r.readers(n.in[0]);
    return n.op == Op::Sum && std::any_of(readers.begin(), readers.end(), [&](int c) {
             const Node& m = g.node(c);
             return (m.op == Op::MatMul || m.op == Op::MatMulUpdate) && !m.a.tb && m.in[1] == n.in[0] &&
                    m.in[0] != n.in[0];
           });
  };
  auto chunks_of = [&](const Node& n) -> int64_t {
    if ((n.op != Op::Sum && n.op != Op::Mean) || n.a.axis != 0 || summed_by_gemm(n)) return 1;
    const Shape& xs = g.node(n.in[0]).shape;
    return xs.rank == 2 ? split_rows_chunks(xs[0], xs[1]) : 1;
  };
  for (const Node& n : g.nodes()) {
    if (const int64_t chunks = chunks_of(n); chunks > 1) {
      const Shape& xs = g.node(n.in[0]).shape;
      // Reshape the reshape's source, not the reshape: the plan sees through one view to fuse an
      // elementwise producer into the sum.
      const Node& src = g.node(n.in[0]);
      const int from = src.op == Op::Reshape ? r.mapped(src.in[0]) : r.mapped(src.id);
      Attrs view;
      view.shape = Shape{chunks, xs[0] / chunks, xs[1]};
      const int rows = r.inner(r.emit(n, Op::Reshape, {from}, view));
      Attrs by_chunk = n.a;
      by_chunk.axis = 1;
      const int parts = r.inner(r.emit(n, n.op, {rows}, by_chunk));
      r.set_map(n.id, r.emit(n, n.op, {parts}, n.a));
      continue;
    }
    r.set_map(n.id, r.copy(n));
  }
  return r.finish();
}

// Passes that do not depend on the target.
template <PassResult (*F)(const Graph&)>
PassResult any_target(const Graph& g, const PassContext&) {
  return F(g);
}

constexpr PassInfo kPasses[] = {
    {"dce", "dead-code elimination", any_target<dce>},
    {"cse", "common-subexpression elimination", any_target<cse>},
    {"fold", "constant folding", any_target<fold>},
    {"simplify", "algebraic simplification", any_target<simplify>},
    {"fuse-xent", "softmax + cross-entropy gradient -> softmax_xent_grad", any_target<fuse_xent>},
    {"fuse-dense", "matmul + bias (+ relu) -> dense", any_target<fuse_dense>},
    {"dropout-mask",
     "relu_grad(y, dropout(dy, k)) -> relu_grad(dropout(y, k), dy·s) where the forward dropout exists (its output "
     "is the mask)",
     any_target<dropout_mask>},
    {"fuse-update", "p - lr·matmul(a, b), an SGD step on a GEMM gradient -> matmul_update (update in the epilogue)",
     fuse_update},
    {"conv-gemm", "conv2d and its gradients -> im2col/col2im + GEMM", any_target<conv_gemm>},
    {"mask-before-pool", "relu_grad(y, max_pool2d_grad(y, dy)) -> max_pool2d_grad(y, relu_grad(max_pool2d(y), dy))",
     any_target<mask_before_pool>},
    {"pool-grad-sums",
     "sum(reshape(max_pool2d_grad(y, dy))) per channel -> sum(reshape(dy)) (and avg_pool2d_grad): the pooled map "
     "instead of the feature map",
     any_target<pool_grad_sums>},
    {"sink-reshape", "elementwise(reshape(x)) -> reshape(elementwise(x)) where exact (bias adds, activations)",
     any_target<sink_reshape>},
    {"fuse-dense-backward", "relu_grad into the consuming GEMMs -> matmul_relu_mask", any_target<fuse_dense_backward>},
    {"split-k",
     "long-k op(A)·B with a small result -> sum over k chunks of matmul_split_k (filter gradients; a dense layer "
     "over a long input, its bias and ReLU after the sum; a first layer's forward GEMM, one chunk per core: each "
     "core reads the rows of W it updates)",
     split_k},
    {"split-rows",
     "column sum of a tall [R, C] -> sum over fixed chunks of rows, then of the chunks' partial sums (each core "
     "sums the rows it produced)",
     any_target<split_rows>},
    {"gemm-layout",
     "A·Bᵀ with a short k or many rows -> A·transpose(B); narrow Aᵀ·B -> transpose(Bᵀ·A); vectorise along the long "
     "side (thresholds from the target)",
     gemm_layout},
};
}  // namespace

std::span<const PassInfo> pass_table() { return kPasses; }

const PassInfo& find_pass(const std::string& name) {
  std::string known;
  for (const PassInfo& p : kPasses) {
    if (name == p.name) return p;
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  }
  throw std::invalid_argument("gradc: unknown pass '" + name + "' (known: " + known + ", fuse)");
}

std::vector<std::string> split_passes(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace gradc
