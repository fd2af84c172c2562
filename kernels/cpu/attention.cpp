// Attention, blockwise over queries, with GEMMs for the two products.
//
// For one (batch b, head h), with Q [Tq,D], K, V [Tk,D] read through their row strides:
//   S = scale·Q·Kᵀ + bias[h]         P = softmax_rows(S over visible keys)       O = P·V
//   lse_i = log Σ_j∈visible(i) exp S_ij   (saved; P_ij = exp(S_ij − lse_i) is recomputed)
// Backward, with δ_i = Σ_d dO_id·O_id (= Σ_j P_ij·dP_ij):
//   dP = dO·Vᵀ;   dS = P ⊙ (dP − δ);   dV += Pᵀ·dO;   dQ += scale·dS·K;   dK += scale·dSᵀ·Q;
//   dbias[h] += Σ_b dS
// Every mask molt has makes the visible keys of query i a PREFIX [0, limit_i) of the keys,
// with limit_i non-decreasing in i (see VisibleKeys). So a block of queries [i0, i1) needs
// only keys [0, limit_{i1−1}): the GEMMs skip the masked-out upper triangle block by block,
// and only the diagonal blocks carry masked entries, which are zeroed in P.
//
// Memory: nothing of size Tq×Tk survives a call. Each thread holds two kQueryBlock×Tk
// scratch tiles (S/P and dP/dS); the forward saves only lse [B,H,Tq].
// Threads: tasks are (b, h) pairs, each running single-threaded sgemm (see gemm.cpp).
// Different (b, h) write disjoint rows/columns of out, dq, dk, dv — also in a fused qkv
// buffer — so they never race. dbias is shared across the batch, so when it is asked for,
// the tasks are whole heads instead (a thread loops over b for its head): each dbias[h]
// is then written by one thread, in batch order, deterministically.
// A query that sees no key at all (causal with Tq > Tk) gets out = 0, lse = −inf and no
// gradient, rather than the NaN a literal softmax over nothing would give.
#include "kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/checks.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/gemm.h"

namespace molt::kernels::cpu {
namespace {

constexpr int kQueryBlock = 64;

// limit(i): query i sees keys [0, limit(i)).
struct VisibleKeys {
  AttentionMask mask;
  int q_tokens;
  int kv_tokens;
  int prefix;  // kPrefix only: keys [0, prefix) are visible to every query

  int limit(int i) const {
    if (mask == AttentionMask::kBidirectional) return kv_tokens;
    int causal = i + (kv_tokens - q_tokens) + 1;
    if (mask == AttentionMask::kPrefix) causal = std::max(causal, prefix);
    return std::clamp(causal, 0, kv_tokens);
  }
};

// Pointers and strides of one (batch, head): the unit of work.
struct HeadProblem {
  const float* q;
  const float* k;
  const float* v;
  const float* out;    // forward writes it through out_w; backward reads it
  float* out_w;
  float* lse;          // [Tq]
  const float* bias;   // [Tq, Tk] or nullptr
  const float* dout;   // backward only
  float* dq;           // backward outputs; any may be nullptr
  float* dk;
  float* dv;
  float* dbias;        // [Tq, Tk] or nullptr
  int q_stride, kv_stride, out_stride;
  VisibleKeys keys;
  int head_dim;
  float scale;
};

// s[0..n) ← softmax(s); returns log Σ exp s (n ≥ 1).
MOLT_VECTOR_CLONES float softmax_row(float* s, int n) {
  float m = s[0];
#pragma omp simd reduction(max : m)
  for (int j = 1; j < n; ++j) m = s[j] > m ? s[j] : m;  // not std::max: see fast_math.h
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n; ++j) {
    s[j] = exp_approx(s[j] - m);
    sum += s[j];
  }
  const float inv = 1.0f / sum;
  for (int j = 0; j < n; ++j) s[j] *= inv;
  return m + std::log(sum);
}

// s[0..n) ← exp(s − lse): the probabilities again, from the saved log-sum-exp.
MOLT_VECTOR_CLONES void exp_shifted_row(float* s, int n, float lse) {
  for (int j = 0; j < n; ++j) s[j] = exp_approx(s[j] - lse);
}

// S[rows, kend] = scale·Q[i0:i0+rows]·K[0:kend]ᵀ + bias, then rows → probabilities P.
// With `lse` known (backward) P = exp(S − lse); otherwise the row's lse is computed and
// stored. Entries past a row's own limit are set to 0.
void probabilities(const HeadProblem& p, int i0, int rows, int kend, float* S, bool know_lse) {
  sgemm_serial(CblasNoTrans, CblasTrans, rows, kend, p.head_dim, p.scale,
               p.q + static_cast<size_t>(i0) * p.q_stride, p.q_stride, p.k, p.kv_stride, 0.0f, S,
               kend);
  for (int r = 0; r < rows; ++r) {
    const int i = i0 + r;
    float* s = S + static_cast<size_t>(r) * kend;
    const int limit = p.keys.limit(i);
    if (p.bias != nullptr) {
      const float* bias_row = p.bias + static_cast<size_t>(i) * p.keys.kv_tokens;
      for (int j = 0; j < limit; ++j) s[j] += bias_row[j];
    }
    std::fill(s + limit, s + kend, 0.0f);
    if (limit == 0) {
      if (!know_lse) p.lse[i] = -std::numeric_limits<float>::infinity();
      continue;
    }
    if (know_lse) {
      exp_shifted_row(s, limit, p.lse[i]);
    } else {
      p.lse[i] = softmax_row(s, limit);
    }
  }
}

void forward_head(const HeadProblem& p, std::vector<float>& scratch) {
  const int Tq = p.keys.q_tokens;
  const int D = p.head_dim;
  for (int i0 = 0; i0 < Tq; i0 += kQueryBlock) {
    const int rows = std::min(kQueryBlock, Tq - i0);
    const int kend = p.keys.limit(i0 + rows - 1);
    float* out_block = p.out_w + static_cast<size_t>(i0) * p.out_stride;
    if (kend == 0) {
      for (int r = 0; r < rows; ++r) {
        std::fill(out_block + static_cast<size_t>(r) * p.out_stride,
                  out_block + static_cast<size_t>(r) * p.out_stride + D, 0.0f);
        p.lse[i0 + r] = -std::numeric_limits<float>::infinity();
      }
      continue;
    }
    float* P = scratch.data();
    probabilities(p, i0, rows, kend, P, /*know_lse=*/false);
    sgemm_serial(CblasNoTrans, CblasNoTrans, rows, D, kend, 1.0f, P, kend, p.v, p.kv_stride, 0.0f,
                 out_block, p.out_stride);
  }
}

// δ_r = Σ_d dO[r, d]·O[r, d] for the block's rows.
void output_gradient_dots(const HeadProblem& p, int i0, int rows, float* delta) {
  for (int r = 0; r < rows; ++r) {
    const float* o = p.out + static_cast<size_t>(i0 + r) * p.out_stride;
    const float* d = p.dout + static_cast<size_t>(i0 + r) * p.out_stride;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < p.head_dim; ++c) sum += o[c] * d[c];
    delta[r] = sum;
  }
}

void backward_head(const HeadProblem& p, std::vector<float>& scratch) {
  const int Tq = p.keys.q_tokens;
  const int Tk = p.keys.kv_tokens;
  const int D = p.head_dim;
  float* P = scratch.data();
  float* dS = P + static_cast<size_t>(kQueryBlock) * Tk;
  float delta[kQueryBlock];
  for (int i0 = 0; i0 < Tq; i0 += kQueryBlock) {
    const int rows = std::min(kQueryBlock, Tq - i0);
    const int kend = p.keys.limit(i0 + rows - 1);
    if (kend == 0) continue;
    const float* q_block = p.q + static_cast<size_t>(i0) * p.q_stride;
    const float* dout_block = p.dout + static_cast<size_t>(i0) * p.out_stride;
    probabilities(p, i0, rows, kend, P, /*know_lse=*/true);
    if (p.dv != nullptr) {
      sgemm_serial(CblasTrans, CblasNoTrans, kend, D, rows, 1.0f, P, kend, dout_block,
                   p.out_stride, 1.0f, p.dv, p.kv_stride);
    }
    sgemm_serial(CblasNoTrans, CblasTrans, rows, kend, D, 1.0f, dout_block, p.out_stride, p.v,
                 p.kv_stride, 0.0f, dS, kend);
    output_gradient_dots(p, i0, rows, delta);
    for (int r = 0; r < rows; ++r) {
      float* ds = dS + static_cast<size_t>(r) * kend;
      const float* pr = P + static_cast<size_t>(r) * kend;
      for (int j = 0; j < kend; ++j) ds[j] = pr[j] * (ds[j] - delta[r]);
      if (p.dbias != nullptr) {
        float* db = p.dbias + static_cast<size_t>(i0 + r) * Tk;
        for (int j = 0; j < kend; ++j) db[j] += ds[j];
      }
    }
    if (p.dq != nullptr) {
      sgemm_serial(CblasNoTrans, CblasNoTrans, rows, D, kend, p.scale, dS, kend, p.k, p.kv_stride,
                   1.0f, p.dq + static_cast<size_t>(i0) * p.q_stride, p.q_stride);
    }
    if (p.dk != nullptr) {
      sgemm_serial(CblasTrans, CblasNoTrans, kend, D, rows, p.scale, dS, kend, q_block,
                   p.q_stride, 1.0f, p.dk, p.kv_stride);
    }
  }
}

struct AttentionBuffers {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  float* lse;
  const float* bias;
  const int32_t* prefix_lengths;
  const float* dout = nullptr;
  float* dq = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  float* dbias = nullptr;
};

// Element offsets of (b, h) in each buffer.
struct HeadOffsets {
  size_t q, kv, out, lse, bias;
};

HeadOffsets head_offsets(const AttentionShape& s, int b, int h) {
  const size_t HD = static_cast<size_t>(s.heads) * s.head_dim;
  const size_t head_column = static_cast<size_t>(h) * s.head_dim;
  return {static_cast<size_t>(b) * s.q_tokens * s.q_row_stride + head_column,
          static_cast<size_t>(b) * s.kv_tokens * s.kv_row_stride + head_column,
          static_cast<size_t>(b) * s.q_tokens * HD + head_column,
          (static_cast<size_t>(b) * s.heads + h) * s.q_tokens,
          static_cast<size_t>(h) * s.q_tokens * s.kv_tokens};
}

template <typename T>
T* offset_or_null(T* base, size_t offset) {
  return base != nullptr ? base + offset : nullptr;
}

HeadProblem locate(const AttentionShape& s, const AttentionBuffers& a, int b, int h) {
  const HeadOffsets at = head_offsets(s, b, h);
  HeadProblem p{};
  p.q = a.q + at.q;
  p.k = a.k + at.kv;
  p.v = a.v + at.kv;
  p.out = a.out + at.out;
  p.out_w = a.out + at.out;
  p.lse = a.lse + at.lse;
  p.bias = offset_or_null(a.bias, at.bias);
  p.dout = offset_or_null(a.dout, at.out);
  p.dq = offset_or_null(a.dq, at.q);
  p.dk = offset_or_null(a.dk, at.kv);
  p.dv = offset_or_null(a.dv, at.kv);
  p.dbias = offset_or_null(a.dbias, at.bias);
  p.q_stride = s.q_row_stride;
  p.kv_stride = s.kv_row_stride;
  p.out_stride = s.heads * s.head_dim;
  p.keys = {s.mask, s.q_tokens, s.kv_tokens,
            a.prefix_lengths != nullptr ? a.prefix_lengths[b] : 0};
  p.head_dim = s.head_dim;
  p.scale = s.scale;
  return p;
}

// Elements a strided [B, T, H·D] view must hold: the last row's last element.
size_t strided_extent(int B, int T, int stride, int width) {
  if (B == 0 || T == 0) return 0;
  return (static_cast<size_t>(B) * T - 1) * stride + width;
}

void check_shape(const AttentionShape& s) {
  const int HD = s.heads * s.head_dim;
  require(s.batch >= 0 && s.q_tokens >= 0 && s.kv_tokens >= 0 && s.heads > 0 && s.head_dim > 0,
          "attention: negative or zero shape");
  require(s.q_row_stride >= HD, "attention: q_row_stride is smaller than H·D");
  require(s.kv_row_stride >= HD, "attention: kv_row_stride is smaller than H·D");
}

AttentionBuffers attention_inputs(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                  Tensor bias, Tensor prefix_lengths, const AttentionShape& s) {
  check_shape(s);
  const int HD = s.heads * s.head_dim;
  const size_t q_extent = strided_extent(s.batch, s.q_tokens, s.q_row_stride, HD);
  const size_t kv_extent = strided_extent(s.batch, s.kv_tokens, s.kv_row_stride, HD);
  AttentionBuffers a{};
  a.q = f32_covering(q, q_extent, "attention: q");
  a.k = f32_covering(k, kv_extent, "attention: k");
  a.v = f32_covering(v, kv_extent, "attention: v");
  a.out = f32_covering(out, product(s.batch, s.q_tokens) * HD, "attention: out");
  a.lse = f32_covering(lse, product(s.batch, s.heads) * s.q_tokens, "attention: lse");
  a.bias = optional_f32(bias, product(s.heads, s.q_tokens) * s.kv_tokens, "attention: bias");
  a.prefix_lengths = nullptr;
  if (s.mask == AttentionMask::kPrefix) {
    a.prefix_lengths = i32_covering(prefix_lengths, s.batch, "attention: prefix_lengths");
  }
  return a;
}

// Runs `work(problem, scratch)` for every (b, h); heads_whole = one thread per head.
template <typename Work>
void for_each_head(const AttentionShape& s, const AttentionBuffers& a, bool heads_whole,
                   size_t scratch_floats, Work work) {
  const int tasks = heads_whole ? s.heads : s.batch * s.heads;
#pragma omp parallel
  {
    std::vector<float> scratch(scratch_floats);
#pragma omp for schedule(dynamic, 1)
    for (int task = 0; task < tasks; ++task) {
      if (heads_whole) {
        for (int b = 0; b < s.batch; ++b) work(locate(s, a, b, task), scratch);
      } else {
        work(locate(s, a, task / s.heads, task % s.heads), scratch);
      }
    }
  }
}

}  // namespace

void attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                       Tensor prefix_lengths, const AttentionShape& shape) {
  const AttentionBuffers a = attention_inputs(out, lse, q, k, v, bias, prefix_lengths, shape);
  for_each_head(shape, a, false, static_cast<size_t>(kQueryBlock) * shape.kv_tokens,
                forward_head);
}

void attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout, Tensor out,
                        Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                        Tensor prefix_lengths, const AttentionShape& shape) {
  AttentionBuffers a = attention_inputs(out, lse, q, k, v, bias, prefix_lengths, shape);
  const int HD = shape.heads * shape.head_dim;
  a.dout = f32_covering(dout, product(shape.batch, shape.q_tokens) * HD, "attention: dout");
  const size_t q_extent = strided_extent(shape.batch, shape.q_tokens, shape.q_row_stride, HD);
  const size_t kv_extent = strided_extent(shape.batch, shape.kv_tokens, shape.kv_row_stride, HD);
  a.dq = optional_f32(dq, q_extent, "attention: dq");
  a.dk = optional_f32(dk, kv_extent, "attention: dk");
  a.dv = optional_f32(dv, kv_extent, "attention: dv");
  a.dbias = optional_f32(dbias, product(shape.heads, shape.q_tokens) * shape.kv_tokens,
                         "attention: dbias");
  for_each_head(shape, a, a.dbias != nullptr, 2 * static_cast<size_t>(kQueryBlock) *
                                                  shape.kv_tokens, backward_head);
}

}  // namespace molt::kernels::cpu
