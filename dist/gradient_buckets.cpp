#include "dist/gradient_buckets.h"

#include <algorithm>
#include <chrono>

namespace molt::dist {

GradientBuckets::GradientBuckets(Comm& comm, kernels::Tensor grads, size_t bucket_bytes,
                                 size_t shard_chunk)
    : comm_(comm), grads_(grads) {
  const size_t per_bucket = std::max<size_t>(1, bucket_bytes / sizeof(float));
  for (size_t begin = 0; begin < grads.count;) {
    Bucket bucket;
    bucket.begin = begin;
    bucket.end = std::min(grads.count, begin + per_bucket);
    if (shard_chunk > 0) {
      const size_t owner = begin / shard_chunk;
      bucket.owner = static_cast<int>(owner);
      bucket.end = std::min(bucket.end, (owner + 1) * shard_chunk);
    }
    begin = bucket.end;
    buckets_.push_back(std::move(bucket));
  }
}

void GradientBuckets::start(Bucket& bucket) {
  kernels::Tensor slice = grads_.slice(bucket.begin, bucket.end - bucket.begin);
  bucket.pending = bucket.owner < 0 ? comm_.start_sum(slice) : comm_.start_sum_to(slice, bucket.owner);
}

void GradientBuckets::ready(size_t begin, size_t end) {
  if (comm_.world() == 1) return;
  for (Bucket& bucket : buckets_) {
    size_t lo = std::max(begin, bucket.begin), hi = std::min(end, bucket.end);
    if (lo >= hi) continue;
    bucket.reported += hi - lo;
    if (bucket.reported == bucket.end - bucket.begin && !bucket.pending) start(bucket);
  }
  for (Bucket& bucket : buckets_) {
    if (bucket.pending) bucket.pending->poll();
  }
}

void GradientBuckets::finish() {
  if (comm_.world() == 1) return;
  for (Bucket& bucket : buckets_) {
    if (!bucket.pending) start(bucket);
  }
  auto t0 = std::chrono::steady_clock::now();
  for (Bucket& bucket : buckets_) {
    bucket.pending->wait();
    bucket.pending.reset();
    bucket.reported = 0;
  }
  last_wait_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace molt::dist
