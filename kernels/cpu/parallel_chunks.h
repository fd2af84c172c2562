// Splits [0, n) into fixed chunks and runs them on the OpenMP threads.
//
// Elementwise kernels pass a function that processes one contiguous chunk; that function
// can then carry MOLT_VECTOR_CLONES (fast_math.h), which an OpenMP-outlined loop body
// cannot. Chunks of kChunkElements (64 KiB of f32) amortize scheduling and stay in L2;
// a buffer smaller than one chunk runs on the calling thread without a fork/join.
#pragma once

#include <algorithm>
#include <cstdint>

namespace molt::kernels::cpu {

constexpr int64_t kChunkElements = 1 << 14;

template <typename ChunkFunction>
void for_each_chunk(int64_t n, ChunkFunction run_chunk) {
  const int64_t chunks = (n + kChunkElements - 1) / kChunkElements;
  if (chunks <= 1) {
    if (n > 0) run_chunk(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunkElements;
    run_chunk(begin, std::min(n, begin + kChunkElements));
  }
}

}  // namespace molt::kernels::cpu
