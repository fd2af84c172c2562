#include "io/window_permutation.h"

#include <numeric>
#include <utility>

namespace molt::io {

std::vector<uint64_t> window_permutation(uint64_t seed, uint64_t epoch, uint64_t count,
                                         bool shuffle) {
  std::vector<uint64_t> perm(count);
  std::iota(perm.begin(), perm.end(), uint64_t{0});
  if (!shuffle || count < 2) return perm;
  // One stream per (seed, epoch): the epoch is mixed through a splitmix64 step of its own
  // so that neighbouring seeds and epochs do not give overlapping streams.
  SplitMix64 rng(seed ^ SplitMix64(epoch).next());
  for (uint64_t i = count - 1; i > 0; --i) {
    std::swap(perm[i], perm[rng.below(i + 1)]);
  }
  return perm;
}

}  // namespace molt::io
