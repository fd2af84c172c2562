// exp and tanh that vectorize, and the attribute that compiles a loop for AVX2 too.
//
// Why hand-written: glibc's expf/tanhf are scalar calls unless the whole build uses
// -ffast-math, and exp is the inner cost of GELU, softmax (attention) and cross-entropy
// (≈ 10⁷–10⁸ calls per training step of a small GPT). Written as branch-free arithmetic
// on floats and int bit patterns, these inline into a loop that GCC vectorizes.
//
// exp(x) = 2ⁿ·eʳ with n = round(x·log₂e) and r = x − n·ln2 ∈ [−ln2/2, ln2/2]:
//  * n is rounded by adding 1.5·2²³ (the float's integer unit is then 1, so the add
//    rounds to nearest and the low mantissa bits hold n in two's complement);
//  * r uses ln2 split into a high part exact in float and a low correction (Cody–Waite),
//    so n·ln2_hi is exact and r keeps full precision;
//  * eʳ is its Taylor series to degree 7: the first dropped term r⁸/8! < 6·10⁻⁹, below
//    float resolution, so the error is that of the Horner evaluation (≈ 1–2 ulp);
//  * 2ⁿ is built directly as the bit pattern (n + 127)·2²³.
// x is clamped to [−87, 88] so 2ⁿ stays a normal float: exp(x < −87) returns ≈ 1.6e−38
// instead of a denormal or 0 — harmless in a sum of exponentials that contains 1.
// tanh(x) = (e²ˣ − 1)/(e²ˣ + 1) with x clamped to ±9 (tanh 9 rounds to 1 in float);
// near 0 that quotient cancels, so |x| < 1/16 uses x − x³/3 + 2x⁵/15 − 17x⁷/315 instead.
#pragma once

#include <algorithm>
#include <cstdint>

// Compiles the marked function twice — for AVX2+FMA (x86-64-v3) and for the baseline —
// and picks one at load time, so one binary runs everywhere and is fast where it can be.
// Under GCC it also drops -ftrapping-math for that function: with it, GCC will not turn
// the clamps below into vector selects (the FP ops on the untaken side might raise an
// exception flag), and the loop stays scalar. molt never reads FP exception flags.
// Because of that option change GCC will not inline ordinary inline functions (std::max,
// std::sqrt) into a marked function: write those as plain expressions there, or mark the
// helper MOLT_ALWAYS_INLINE.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MOLT_VECTOR_CLONES \
  __attribute__((target_clones("arch=haswell", "default"), optimize("no-trapping-math")))
#elif defined(__x86_64__) && defined(__clang__)
#define MOLT_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define MOLT_VECTOR_CLONES
#endif

// Always inlined: a call in the loop body would stop vectorization, and GCC will not
// inline a plain function into a target_clones variant on its own.
#if defined(__GNUC__) || defined(__clang__)
#define MOLT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MOLT_ALWAYS_INLINE inline
#endif

namespace molt::kernels::cpu {

MOLT_ALWAYS_INLINE float exp_approx(float x) {
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr float kLn2High = 0.693145751953125f;  // 12 significant bits: n·kLn2High is exact
  constexpr float kLn2Low = 1.4286068203094172e-06f;  // ln2 − kLn2High
  constexpr float kRoundingShift = 12582912.0f;  // 1.5·2²³
  constexpr int32_t kRoundingShiftBits = 0x4B400000;
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifted = x * kLog2e + kRoundingShift;
  const float n = shifted - kRoundingShift;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  const int32_t shifted_bits = __builtin_bit_cast(int32_t, shifted);
  const float power = __builtin_bit_cast(float, (shifted_bits - kRoundingShiftBits + 127) << 23);
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * power;
}

MOLT_ALWAYS_INLINE float tanh_approx(float x) {
  const float clamped = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);
  const float e = exp_approx(2.0f * clamped);
  const float quotient = (e - 1.0f) / (e + 1.0f);
  const float x2 = x * x;
  const float series = x * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315))));
  return x2 < 0.0625f * 0.0625f ? series : quotient;
}

}  // namespace molt::kernels::cpu
