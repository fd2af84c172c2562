// bfloat16 <-> float32 conversion on the host.
//
// bf16 is the top half of an IEEE f32 (1 sign, 8 exponent, 7 mantissa bits), so widening
// is a shift. Narrowing rounds to nearest, ties to even, as CUDA's __float2bfloat16 does:
//   bits + 0x7FFF + lsb(bits >> 16), then keep the top 16 bits.
// Adding 0x7FFF rounds up exactly when the dropped half exceeds 0x8000; the lsb term
// breaks the 0x8000 tie toward an even result. NaN is kept a (quiet) NaN: the rounding
// add could otherwise carry its payload into the exponent and make it Inf.
#pragma once

#include <cstdint>
#include <cstring>

namespace molt::kernels::cpu {

inline uint16_t bf16_from_f32(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float f32_from_bf16(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace molt::kernels::cpu
