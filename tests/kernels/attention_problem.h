// One attention problem for the kernel tests: a case (shape, mask, layout, bias) and its
// host inputs. Shared by attention_test.cpp (CPU against a naive reference) and
// cuda_backend_test.cpp (CUDA against the CPU backend), so both cover the same layouts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "tests/kernels/kernel_test_support.h"

namespace molt::kernels::testing {

struct AttentionCase {
  std::string name;
  int batch, heads, q_tokens, kv_tokens, head_dim;
  AttentionMask mask;
  bool fused_qkv;  // q, k, v interleaved in one [B, T, 3·H·D] buffer (needs Tq == Tk)
  bool with_bias;
  float scale;
};

inline void PrintTo(const AttentionCase& c, std::ostream* os) { *os << c.name; }

// Host copies of one problem's inputs, laid out as the backend sees them.
struct AttentionProblem {
  AttentionShape shape;
  std::vector<float> qkv;            // fused: the one buffer; otherwise unused
  std::vector<float> q, k, v, bias;  // fused: q, k and v are qkv from their offsets on
  std::vector<int32_t> prefix;
  size_t k_offset = 0, v_offset = 0;  // of k and v inside qkv when fused
};

// values(n, seed) gives the n inputs of q, k, v (or qkv): random_normal, or values already
// representable in a compute dtype. The bias stays f32 random_normal.
inline AttentionProblem make_attention_problem(
    const AttentionCase& c, uint32_t seed,
    const std::function<std::vector<float>(size_t, uint32_t)>& values) {
  AttentionProblem p;
  const int HD = c.heads * c.head_dim;
  // Unfused: padded row strides, as a strided view has; fused: GPT-2's 3·C.
  p.shape = {c.batch,
             c.q_tokens,
             c.kv_tokens,
             c.heads,
             c.head_dim,
             c.fused_qkv ? 3 * HD : HD + 2,
             c.fused_qkv ? 3 * HD : HD + 1,
             c.scale,
             c.mask};
  if (c.fused_qkv) {
    p.qkv = values(static_cast<size_t>(c.batch) * c.q_tokens * 3 * HD, seed);
    p.k_offset = HD;
    p.v_offset = 2 * HD;
    p.q = p.qkv;
    p.k.assign(p.qkv.begin() + p.k_offset, p.qkv.end());
    p.v.assign(p.qkv.begin() + p.v_offset, p.qkv.end());
  } else {
    p.q = values(static_cast<size_t>(c.batch) * c.q_tokens * p.shape.q_row_stride, seed);
    p.k = values(static_cast<size_t>(c.batch) * c.kv_tokens * p.shape.kv_row_stride, seed + 1);
    p.v = values(static_cast<size_t>(c.batch) * c.kv_tokens * p.shape.kv_row_stride, seed + 2);
  }
  if (c.with_bias) {
    p.bias = random_normal(static_cast<size_t>(c.heads) * c.q_tokens * c.kv_tokens, seed + 3);
  }
  if (c.mask == AttentionMask::kPrefix) {
    // Per batch, in turn: no prefix, a prefix inside the keys, a prefix covering all keys.
    for (int b = 0; b < c.batch; ++b) {
      const int inside = std::min(c.kv_tokens / 2 + 3, c.kv_tokens - 1);
      p.prefix.push_back(b % 3 == 0 ? 0 : b % 3 == 1 ? inside : c.kv_tokens);
    }
  }
  return p;
}

}  // namespace molt::kernels::testing
