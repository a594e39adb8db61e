#include "runtime/program.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "runtime/dataset.h"
#include "runtime/init.h"
#include "runtime/memory_budget.h"

namespace gradc {

Program::Program(const Graph& g, const CompileOptions& opt) : g_(g), code_(compile(g, opt)) {
  require_runnable(code_->target);  // compiled for an ISA this CPU lacks: refuse before any kernel runs
  labels_ = label_checks(code_->graph);
  const Plan& p = code_->plan;
  check_memory(p.arena_bytes, code_->graph, "the compiled step");
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(64, p.arena_bytes));
  arena_ = static_cast<char*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  if (!arena_) throw std::bad_alloc();
  std::memset(arena_, 0, bytes);
  for (const BufferInfo& b : p.buffers) bufs_.push_back(arena_ + b.offset);
  for (const KernelInfo& k : p.kernels) {
    flops_ += k.flops;
    scratch_stride_ = std::max(scratch_stride_, (k.scratch_bytes + 63) / 64 * 64);
  }
  reserve_scratch(std::max(2, omp_get_max_threads()));
  for (const KernelInfo& k : p.kernels)
    if (k.host) {
      coll_ = std::make_unique<Collectives>(*code_, bufs_);
      break;
    }
  init_values();
}

// Constants are part of the code (the cache key holds their contents); parameters' initial values
// are not, so they come from the caller's graph, which may differ from the cached one in seeds.
void Program::init_values() {
  const Plan& p = code_->plan;
  auto buffer = [&](int opt) { return bufs_[static_cast<size_t>(p.node_buffer[static_cast<size_t>(opt)])]; };
  for (int id : p.live) {
    const Node& n = code_->graph.node(id);
    if (n.op != Op::Constant) continue;
    float* d = reinterpret_cast<float*>(buffer(id));
    if (n.a.data.empty())
      std::fill(d, d + n.shape.numel(), n.a.value);
    else
      std::memcpy(d, n.a.data.data(), n.a.data.size() * 4);
  }
  for (const Node& n : g_.nodes()) {
    const int opt = code_->node_map.at(static_cast<size_t>(n.id));
    if (n.op != Op::Parameter || opt < 0 || p.node_buffer.at(static_cast<size_t>(opt)) < 0) continue;
    const std::vector<float> v = init_param(n);
    std::memcpy(buffer(opt), v.data(), v.size() * 4);
  }
}

void Program::poison_computed() {
  const Plan& p = code_->plan;
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    const BufferInfo& bi = p.buffers[b];
    if (bi.bytes == 0 || op_info(code_->graph.node(bi.owner).op).kind == OpKind::Source) continue;
    float* d = reinterpret_cast<float*>(bufs_[b]);
    std::fill(d, d + bi.bytes / 4, std::numeric_limits<float>::quiet_NaN());
  }
}

Program::~Program() {
  std::free(arena_);
  std::free(scratch_);
}

void Program::reserve_scratch(int threads) {
  if (scratch_stride_ == 0 || threads <= scratch_threads_) return;
  std::free(scratch_);
  scratch_ =
      static_cast<char*>(std::aligned_alloc(64, static_cast<size_t>(scratch_stride_) * static_cast<size_t>(threads)));
  if (!scratch_) throw std::bad_alloc();
  scratch_threads_ = threads;
}

float* Program::scratch(int thread) const {
  return scratch_ ? reinterpret_cast<float*>(scratch_ + scratch_stride_ * thread) : nullptr;
}

int Program::opt_id(int node) const {
  const int id = code_->node_map.at(static_cast<size_t>(node));
  if (id < 0)
    throw std::invalid_argument("gradc: node " + std::to_string(node) + " ('" + op_name(g_.node(node).op) +
                                "') was optimised away; mark it as an output to keep it");
  return id;
}

float* Program::data(int node) {
  const int b = code_->plan.node_buffer.at(static_cast<size_t>(opt_id(node)));
  if (b < 0)
    throw std::invalid_argument(
        "gradc: node " + std::to_string(node) + " ('" + op_name(g_.node(node).op) +
        "') is computed inside a fused kernel and has no buffer; mark it as an output to keep it");
  return reinterpret_cast<float*>(bufs_[static_cast<size_t>(b)]);
}
const float* Program::data(int node) const { return const_cast<Program*>(this)->data(node); }

std::vector<float> Program::get(int node) const {
  const float* d = data(node);
  return std::vector<float>(d, d + numel(node));
}

int Program::input_id(const std::string& name, DType t, size_t n) const {
  const int id = g_.find_id(name);
  if (id < 0) throw std::invalid_argument("gradc: no input or parameter named '" + name + "'");
  const Node& nd = g_.node(id);
  if (nd.dtype != t || static_cast<int64_t>(n) != nd.shape.numel())
    throw std::invalid_argument("gradc: '" + name + "' expects " + std::to_string(nd.shape.numel()) + " " +
                                dtype_name(nd.dtype) + " values (shape " + nd.shape.str() + "), got " +
                                std::to_string(n) + " " + dtype_name(t));
  return id;
}

void Program::set_input(const std::string& name, std::span<const float> d) {
  std::memcpy(data(input_id(name, DType::F32, d.size())), d.data(), d.size_bytes());
}
void Program::set_input_i32(const std::string& name, std::span<const int32_t> d) {
  std::memcpy(data(input_id(name, DType::I32, d.size())), d.data(), d.size_bytes());
}

int Program::threads() const {
  if (threads_ > 0) return threads_;
  return flops_ < kSerialBelowFlops ? 1 : omp_get_max_threads();
}

namespace {
// Thread t's share of kernel k when nt threads run it: all of it on thread 0 when it runs on one
// thread, otherwise an even split of its range.
void run_share(const KernelInfo& k, KernelFn fn, char** bufs, int t, int nt, const Program& p) {
  if (nt == 1 || runs_on_one_thread(k)) {
    if (t == 0) fn(bufs, 0, k.range, p.scratch(0));
    return;
  }
  const int64_t lo = k.range * t / nt, hi = k.range * (t + 1) / nt;
  if (lo < hi) fn(bufs, lo, hi, p.scratch(t));
}

// One kernel with run()'s thread split.
void run_kernel(const KernelInfo& k, KernelFn fn, char** bufs, int T, const Program& p) {
  if (T == 1 || runs_on_one_thread(k)) {
    fn(bufs, 0, k.range, p.scratch(0));
    return;
  }
#pragma omp parallel num_threads(T)
  run_share(k, fn, bufs, omp_get_thread_num(), omp_get_num_threads(), p);
}
}  // namespace

std::vector<double> Program::profile_kernels(int reps) {
  run();  // also reserves scratch for threads()
  const auto& ks = code_->plan.kernels;
  std::vector<double> med(ks.size());
  std::vector<double> t(static_cast<size_t>(reps));
  using Clock = std::chrono::steady_clock;
  for (size_t k = 0; k < ks.size(); ++k) {
    // Each sample times `inner` back-to-back calls so sub-microsecond kernels are resolved.
    const auto w0 = Clock::now();
    run_kernel(ks[k], code_->fns[k], bufs_.data(), threads(), *this);
    const double once = std::chrono::duration<double, std::micro>(Clock::now() - w0).count();
    const int inner = static_cast<int>(std::clamp(20.0 / std::max(once, 0.01), 1.0, 1000.0));
    for (int r = 0; r < reps; ++r) {
      const auto a = Clock::now();
      for (int i = 0; i < inner; ++i) run_kernel(ks[k], code_->fns[k], bufs_.data(), threads(), *this);
      t[static_cast<size_t>(r)] = std::chrono::duration<double, std::micro>(Clock::now() - a).count() / inner;
    }
    std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
    med[k] = t[static_cast<size_t>(reps / 2)];
  }
  return med;
}

std::vector<double> Program::profile_in_step(int reps) {
  run();
  const auto& ks = code_->plan.kernels;
  if (coll_) throw std::logic_error("gradc: profile_in_step times single-process steps (this one has allreduces)");
  using Clock = std::chrono::steady_clock;
  std::vector<std::vector<double>> us(ks.size(), std::vector<double>(static_cast<size_t>(reps)));
  std::vector<Clock::time_point> stamp(ks.size() + 1);
  const KernelFn* fns = code_->fns.data();
  char** bufs = bufs_.data();
  const int T = threads();
  for (int r = 0; r < reps; ++r) {
#pragma omp parallel num_threads(T)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp barrier
      if (t == 0) stamp[0] = Clock::now();
      for (size_t k = 0; k < ks.size(); ++k) {
        run_share(ks[k], fns[k], bufs, t, nt, *this);
#pragma omp barrier
        if (t == 0) stamp[k + 1] = Clock::now();
      }
    }
    for (size_t k = 0; k < ks.size(); ++k)
      us[k][static_cast<size_t>(r)] = std::chrono::duration<double, std::micro>(stamp[k + 1] - stamp[k]).count();
  }
  std::vector<double> med(ks.size());
  for (size_t k = 0; k < ks.size(); ++k) {
    std::nth_element(us[k].begin(), us[k].begin() + reps / 2, us[k].end());
    med[k] = us[k][static_cast<size_t>(reps / 2)];
  }
  return med;
}

void Program::run() {
  for (const LabelCheck& c : labels_) {
    const auto* y = reinterpret_cast<const int32_t*>(
        bufs_[static_cast<size_t>(code_->plan.node_buffer[static_cast<size_t>(c.input)])]);
    for (int64_t i = 0, n = code_->graph.node(c.input).shape.numel(); i < n; ++i)
      if (y[i] < 0 || y[i] >= c.classes) throw DataError(label_error(code_->graph.node(c.op), y[i], c.classes));
  }
  const int T = threads();
  reserve_scratch(T);  // allocates only when a larger thread count than before is asked for
  if (T == 1)
    run_serial();
  else
    run_parallel(T);
}

void Program::run_serial() {
  const auto& ks = code_->plan.kernels;
  const KernelFn* fns = code_->fns.data();
  char** bufs = bufs_.data();
  Collectives* c = coll_.get();
  if (!c) {
    for (size_t k = 0; k < ks.size(); ++k) fns[k](bufs, 0, ks[k].range, scratch(0));
    return;
  }
  if (c->starts_after(-1)) c->start_after(-1);
  for (size_t k = 0; k < ks.size(); ++k) {
    if (ks[k].host)
      c->run(k);
    else
      fns[k](bufs, 0, ks[k].range, scratch(0));
    if (c->starts_after(static_cast<int64_t>(k))) c->start_after(static_cast<int64_t>(k));
    c->progress();
  }
}

// Every kernel inside ONE parallel region. Collectives run on thread 0 (MPI_THREAD_FUNNELED): a
// bucket starts after a barrier that makes its gradients final; its allreduce kernels are ordered
// by the plan's barriers like any kernel that writes a buffer.
void Program::run_parallel(int T) {
  const auto& ks = code_->plan.kernels;
  const KernelFn* fns = code_->fns.data();
  char** bufs = bufs_.data();
  Collectives* c = coll_.get();
  if (c && c->starts_after(-1)) c->start_after(-1);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (size_t k = 0; k < ks.size(); ++k) {
      if (ks[k].host) {
        if (t == 0) c->run(k);
      } else {
        run_share(ks[k], fns[k], bufs, t, nt, *this);
      }
      if (c && c->starts_after(static_cast<int64_t>(k))) {
#pragma omp barrier
        if (t == 0) c->start_after(static_cast<int64_t>(k));
      }
      if (c && t == 0) c->progress();
      // The plan marks which kernels depend on unsynchronised work; the flag is the same for all
      // threads, so every thread reaches the same barriers.
      if (k + 1 < ks.size() && ks[k + 1].barrier_before) {
#pragma omp barrier
      }
    }
  }
}

}  // namespace gradc
