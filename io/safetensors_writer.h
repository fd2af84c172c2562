// Writes a .safetensors file: the format Hugging Face loads weights from.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name
// to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that follows),
// then the raw little-endian data. The header is padded with spaces to a multiple of 8 so
// the data is aligned. Written to PATH.tmp and renamed, like every molt output.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace molt::io {

struct SafetensorsEntry {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // F32, row-major, product(shape) elements
};

// Throws UserError naming the path when it cannot be written.
void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace molt::io
