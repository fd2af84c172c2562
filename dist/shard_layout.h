// ShardLayout: which slice of a flat buffer each rank owns under ZeRO-1.
//
// A buffer of `count` elements is cut into `world` chunks of chunk = ⌈count / world⌉; rank r
// owns [r·chunk, min((r+1)·chunk, count)). The buffer is padded only logically: the last
// chunks may be short (even empty), so any parameter count works and no byte is added to
// the model. Collectives that need equal blocks (NCCL) pad inside the Comm.
#pragma once

#include <algorithm>
#include <cstddef>

namespace molt::dist {

struct ShardLayout {
  size_t chunk = 0;  // elements per rank before clipping to the buffer
  size_t begin = 0;  // this rank's slice, [begin, end)
  size_t end = 0;
  size_t count() const { return end - begin; }
};

inline ShardLayout shard_layout(size_t count, int world, int rank) {
  ShardLayout layout;
  layout.chunk = (count + size_t(world) - 1) / size_t(world);
  layout.begin = std::min(count, size_t(rank) * layout.chunk);
  layout.end = std::min(count, layout.begin + layout.chunk);
  return layout;
}

}  // namespace molt::dist
