// The allreduce kernels of a compiled step, executed through a Comm (MPI). Each bucket's gradients
// are packed into one buffer and its non-blocking sum starts as soon as the last of them has been
// computed, so the reduction of the layers finished first overlaps the rest of the backward pass
// (thread 0 drives MPI's progress between kernels). A bucket is waited for only at its first
// allreduce kernel, and each kernel copies its own slice out (scaled: 1/ranks for a mean) at the
// position the plan gave it, so the memory plan's buffer lifetimes hold.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/jit.h"
#include "runtime/comm.h"

namespace gradc {

struct CollectiveStats {
  double start_us = 0;  // packing + starting the sums
  double wait_us = 0;   // blocked waiting for sums to finish (the exposed part)
  double copy_us = 0;   // unpacking
  int64_t bytes = 0;    // summed per rank per step
  int buckets = 0;
};

class Collectives {
 public:
  Collectives(const CompiledProgram& code, const std::vector<char*>& bufs);
  bool empty() const { return buckets_.empty(); }
  void set_comm(Comm* c) { comm_ = c; }
  Comm& comm() const { return comm_ ? *comm_ : world(); }
  // Buckets whose gradients are final once kernel t has run (t = -1: before the first kernel).
  bool starts_after(int64_t t) const { return !start_after_[static_cast<size_t>(t + 1)].empty(); }
  void start_after(int64_t t);
  // The allreduce kernel t: waits for its bucket the first time, then writes its node's slice.
  void run(size_t t);
  void progress();  // lets in-flight sums advance (cheap when none is)
  const CollectiveStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  // Floats per bucket, in bucket order.
  std::vector<int64_t> bucket_sizes() const;

 private:
  struct Member {
    size_t kernel;
    float* in;
    float* out;
    int64_t offset, n;
    float scale;
  };
  struct Bucket {
    std::vector<Member> members;
    std::vector<float> staging;
    int request = -1;
    bool waited = true;
  };
  std::vector<Bucket> buckets_;
  std::vector<std::vector<size_t>> start_after_;  // [t + 1] -> buckets
  std::vector<int> bucket_of_kernel_;             // -1 for ordinary kernels
  std::vector<size_t> in_flight_;
  Comm* comm_ = nullptr;
  CollectiveStats stats_;
};

}  // namespace gradc
