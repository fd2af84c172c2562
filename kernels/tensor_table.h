// A name table over one flat buffer: name -> (shape, offset). model/ builds it, io/ reads
// and writes checkpoints with it, dist/ and the optimizer ignore it and see one buffer.
//
// It is a plain description of raw memory, so it sits in the lowest layer where io/ and
// model/ may both use it without knowing each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace molt {

struct TensorEntry {
  std::string name;            // Hugging Face name, e.g. "transformer.h.0.attn.c_attn.weight"
  std::vector<int64_t> shape;  // molt's layout (a linear weight is [out, in])
  size_t offset = 0;           // in elements from the start of the flat buffer
  size_t count() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

using TensorTable = std::vector<TensorEntry>;

// Elements covered by the table (end of the last entry).
inline size_t table_count(const TensorTable& table) {
  size_t end = 0;
  for (const auto& e : table) end = e.offset + e.count() > end ? e.offset + e.count() : end;
  return end;
}

}  // namespace molt
