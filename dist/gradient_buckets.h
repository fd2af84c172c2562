// GradientBuckets: summing gradients over ranks while backward is still running.
//
// The flat gradient buffer is cut into contiguous buckets of about `bucket_bytes`. Backward
// reports each range of the buffer whose gradient is final (the model's GradsReadyHook);
// when every element of a bucket has been reported, that bucket's reduction starts at once,
// so communication for the last layers overlaps backward through the first ones. finish()
// starts whatever is left, waits for all, and records how long it waited — the part of
// communication that overlap did not hide.
//
// With accumulation, only the last micro-step's backward reports ranges, so only it
// communicates.
//
// ZeRO-1 (shard_chunk > 0): rank r needs the sum of its shard [r·chunk, (r+1)·chunk) only.
// Buckets are also cut at shard boundaries, and each is summed to its owner alone
// (start_sum_to) — together a reduce-scatter, but overlapped with backward like the
// all-reduce.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "dist/comm.h"

namespace molt::dist {

class GradientBuckets {
 public:
  GradientBuckets(Comm& comm, kernels::Tensor grads, size_t bucket_bytes, size_t shard_chunk = 0);

  // [begin, end) of the gradient buffer is final for this step.
  void ready(size_t begin, size_t end);
  // Completes every bucket; afterwards grads hold the sum over all ranks. Resets for the
  // next step.
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  double last_wait_seconds() const { return last_wait_seconds_; }

 private:
  struct Bucket {
    size_t begin = 0, end = 0;
    size_t reported = 0;
    int owner = -1;  // ZeRO-1: the rank whose shard holds the bucket; -1 = all ranks
    std::unique_ptr<PendingReduction> pending;
  };
  void start(Bucket& bucket);

  Comm& comm_;
  kernels::Tensor grads_;
  std::vector<Bucket> buckets_;
  double last_wait_seconds_ = 0;
};

}  // namespace molt::dist
