#include "runtime/collectives.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

namespace gradc {

namespace {
using Clock = std::chrono::steady_clock;
double us_since(Clock::time_point a) { return std::chrono::duration<double, std::micro>(Clock::now() - a).count(); }
}  // namespace

Collectives::Collectives(const CompiledProgram& code, const std::vector<char*>& bufs) {
  const Plan& p = code.plan;
  const Graph& g = code.graph;
  bucket_of_kernel_.assign(p.kernels.size(), -1);
  start_after_.assign(p.kernels.size() + 1, {});
  // The kernel that last writes each buffer before t: a gradient is final after its producer.
  auto producer = [&](int buffer, size_t before) -> int64_t {
    for (size_t t = before; t-- > 0;) {
      const KernelInfo& k = p.kernels[t];
      std::vector<int> group = k.fused;
      group.push_back(k.node);
      for (int id : group)
        if (p.node_buffer[static_cast<size_t>(id)] == buffer) return static_cast<int64_t>(t);
    }
    return -1;
  };
  std::map<int, size_t> index;  // bucket attribute -> position in buckets_
  std::vector<int64_t> ready;   // per bucket: the kernel after which all its gradients are final
  for (size_t t = 0; t < p.kernels.size(); ++t) {
    const KernelInfo& k = p.kernels[t];
    if (!k.host) continue;
    const Node& n = g.node(k.node);
    const int in_buf = p.node_buffer[static_cast<size_t>(n.in[0])];
    auto [it, fresh] = index.emplace(n.a.bucket, buckets_.size());
    if (fresh) buckets_.emplace_back(), ready.push_back(-1);
    Bucket& b = buckets_[it->second];
    const int64_t numel = n.shape.numel();
    b.members.push_back(
        {t, reinterpret_cast<float*>(bufs[static_cast<size_t>(in_buf)]),
         reinterpret_cast<float*>(bufs[static_cast<size_t>(p.node_buffer[static_cast<size_t>(k.node)])]),
         static_cast<int64_t>(b.staging.size()), numel, n.a.value});
    b.staging.resize(b.staging.size() + static_cast<size_t>(numel));
    ready[it->second] = std::max(ready[it->second], producer(in_buf, t));
    bucket_of_kernel_[t] = static_cast<int>(it->second);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) start_after_[static_cast<size_t>(ready[b] + 1)].push_back(b);
}

void Collectives::start_after(int64_t t) {
  const auto a = Clock::now();
  for (size_t bi : start_after_[static_cast<size_t>(t + 1)]) {
    Bucket& b = buckets_[bi];
    for (const Member& m : b.members)
      std::memcpy(b.staging.data() + m.offset, m.in, static_cast<size_t>(m.n) * sizeof(float));
    b.request = comm().start_sum(b.staging.data(), static_cast<int64_t>(b.staging.size()));
    b.waited = false;
    in_flight_.push_back(bi);
    stats_.bytes += static_cast<int64_t>(b.staging.size() * sizeof(float));
    ++stats_.buckets;
  }
  stats_.start_us += us_since(a);
}

void Collectives::progress() {
  for (size_t i = 0; i < in_flight_.size();) {
    if (comm().test(buckets_[in_flight_[i]].request)) {
      in_flight_[i] = in_flight_.back();
      in_flight_.pop_back();
    } else {
      ++i;
    }
  }
}

void Collectives::run(size_t t) {
  Bucket& b = buckets_[static_cast<size_t>(bucket_of_kernel_[t])];
  if (!b.waited) {
    const auto a = Clock::now();
    comm().wait(b.request);
    stats_.wait_us += us_since(a);
    b.waited = true;
    in_flight_.erase(std::remove(in_flight_.begin(), in_flight_.end(), static_cast<size_t>(bucket_of_kernel_[t])),
                     in_flight_.end());
  }
  const auto a = Clock::now();
  for (const Member& m : b.members)
    if (m.kernel == t) {
      const float* s = b.staging.data() + m.offset;
      for (int64_t i = 0; i < m.n; ++i) m.out[i] = s[i] * m.scale;
    }
  stats_.copy_us += us_since(a);
}

std::vector<int64_t> Collectives::bucket_sizes() const {
  std::vector<int64_t> out;
  for (const Bucket& b : buckets_) out.push_back(static_cast<int64_t>(b.staging.size()));
  return out;
}

}  // namespace gradc
