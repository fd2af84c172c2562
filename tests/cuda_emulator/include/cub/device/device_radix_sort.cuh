// cub::DeviceRadixSort::SortPairs for the CUDA emulator (../../../emulator.h): a stable
// sort by the key's bits [begin_bit, end_bit), as CUB's is. It asks for temporary storage
// as CUB does (a first call with none reports the bytes), checks that the storage does not
// overlap the arrays, and scribbles over it, so a caller that reuses it too early shows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "tests/cuda_emulator/include/cuda_runtime.h"

namespace cub {

struct DeviceRadixSort {
  template <typename Key, typename Value, typename Count>
  static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const Key* keys_in, Key* keys_out,
                               const Value* values_in, Value* values_out, Count count,
                               int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                               cudaStream_t stream = nullptr) {
    static_cast<void>(stream);
    const size_t n = static_cast<size_t>(count);
    const size_t needed = 2 * n * (sizeof(Key) + sizeof(Value)) + 1024;
    if (temp == nullptr) {
      temp_bytes = needed;
      return cudaSuccess;
    }
    const auto overlaps = [&](const void* p, size_t bytes) {
      const char* a = static_cast<const char*>(p);
      const char* t = static_cast<const char*>(temp);
      return a < t + temp_bytes && t < a + bytes;
    };
    if (temp_bytes < needed || overlaps(keys_in, n * sizeof(Key)) ||
        overlaps(keys_out, n * sizeof(Key)) || overlaps(values_in, n * sizeof(Value)) ||
        overlaps(values_out, n * sizeof(Value)) || !molt_emu::is_device_pointer(temp) ||
        (n > 0 &&
         (!molt_emu::is_device_pointer(keys_in) || !molt_emu::is_device_pointer(keys_out)))) {
      return cudaErrorInvalidValue;
    }
    const Key mask =
        static_cast<Key>(((end_bit >= 64 ? ~uint64_t{0} : (uint64_t{1} << end_bit) - 1)) &
                         ~((uint64_t{1} << begin_bit) - 1));
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return (keys_in[a] & mask) < (keys_in[b] & mask); });
    std::vector<Key> keys(n);
    std::vector<Value> values(n);
    for (size_t i = 0; i < n; ++i) keys[i] = keys_in[order[i]], values[i] = values_in[order[i]];
    std::memset(temp, 0xA5, temp_bytes);
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
    return cudaSuccess;
  }
};

}  // namespace cub
