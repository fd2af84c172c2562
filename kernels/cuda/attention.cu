// Attention without a Tq×Tk matrix in global memory: an online softmax per query row over
// tiles of keys (forward), and a backward that recomputes the probabilities from the saved
// log-sum-exp.
//
// For one (batch b, head h), with S = scale·Q·Kᵀ + bias[h] over visible keys:
//   forward   P = softmax_rows(S),  O = P·V,  lse_i = log Σ_j exp S_ij
//   backward  P_ij = exp(S_ij − lse_i),  δ_i = Σ_d dO_id·O_id,  dP = dO·Vᵀ,
//             dS = P ⊙ (dP − δ),  dQ += scale·dS·K,  dK += scale·dSᵀ·Q,  dV += Pᵀ·dO,
//             dbias[h] += Σ_b dS
// Online softmax (forward), per query row, over key tiles: with running max m, running sum
// l and running unnormalised output o, a tile with scores s_j does
//   m' = max(m, max_j s_j);  c = exp(m − m');  l ← c·l + Σ_j exp(s_j − m');
//   o ← c·o + Σ_j exp(s_j − m')·v_j;  m ← m'      and at the end O = o/l, lse = m + log l.
//
// Work split — chosen to be obviously right, not fast:
//   * One WARP per query row (forward, dQ) or per key row (dK, dV); a block holds
//     kWarps rows of one (b, h) and stages 32-row tiles of the other side in shared memory
//     as f32, so each tile load is shared by kWarps rows.
//   * In a tile, lane j owns key (or query) j: it computes one score with a D-long dot
//     product read from shared memory (rows padded to D+1 floats, so the 32 lanes hit 32
//     different banks). Each lane owns head dims lane, lane+32, ... of the accumulators,
//     and takes each row's probability from the lane that computed it with a shuffle.
//   * Backward is two kernels: dQ (and dbias) over query rows, dK and dV over key rows.
//     Each recomputes P, so no row ever needs another row's partial sums: no atomics on
//     dq, dk, dv, whose += is then a plain read-modify-write. dbias sums over the batch,
//     so when it is wanted a dQ block owns one head for every b and adds them in order.
//     Nothing is written by two blocks: two runs give the same bits.
//   * All products are CUDA-core FMAs in f32. These kernels run every f32 op; bf16 ops
//     with head_dim 16/32/64/128 run the tensor-core kernels (attention_tensor_core.cu),
//     which these are the reference for (choose_attention_kernel, attention.h).
// Masks: every mask molt has makes the visible keys of query i a prefix [0, limit_i) of
// the keys, with limit_i non-decreasing in i (same VisibleKeys rule as cpu/attention.cpp).
// So a block of queries stops at the limit of its last row, and a block of keys skips the
// query tiles none of whose rows reaches its first key (the causal upper triangle).
// A query that sees no key (causal with Tq > Tk) gets out = 0, lse = −inf, no gradient.
#include "kernels/cuda/attention.h"

#include <cstdlib>
#include <string>

#include "kernels/cuda/attention_args.cuh"
#include "kernels/cuda/attention_tensor_core.h"
#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reductions.cuh"
#include "kernels/error.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kWarps = 8;                     // rows per block
constexpr int kThreads = kWarps * kWarpSize;  // 256
constexpr int kTile = kWarpSize;              // rows of the other side per tile: one per lane
constexpr int kDimsPerLane = kMaxAttentionHeadDim / kWarpSize;

// tile[r][d] (row pitch D+1) ← rows first..first+kTile of a strided tensor, 0 past `rows`.
// `at(row)` is the element offset of the row's head slice. Called by the whole block.
template <typename Offset>
__device__ void load_tile(float* tile, FloatArray src, int first, int rows, int D, Offset at) {
  for (int e = threadIdx.x; e < kTile * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    const int row = first + r;
    tile[r * (D + 1) + d] = row < rows ? src.load(at(row) + d) : 0.0f;
  }
}

// Σ_d x[d]·tile_row[d]
__device__ __forceinline__ float dot(const float* x, const float* tile_row, int D) {
  float sum = 0.0f;
  for (int d = 0; d < D; ++d) sum += x[d] * tile_row[d];
  return sum;
}

// grid (B·H, ⌈Tq / kWarps⌉); shared: K, V tiles [kTile][D+1], q rows [kWarps][D].
__global__ void __launch_bounds__(kThreads) forward_kernel(AttentionArgs a) {
  extern __shared__ float shared[];
  const int D = a.head_dim;
  float* k_tile = shared;
  float* v_tile = k_tile + kTile * (D + 1);
  float* q_rows = v_tile + kTile * (D + 1);
  const int b = blockIdx.x / a.heads, h = blockIdx.x % a.heads;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int first_row = blockIdx.y * kWarps;
  const int i = first_row + warp;
  const bool active = i < a.q_tokens;
  const int prefix = prefix_of(a, b);
  const int limit = active ? visible_limit(a, i, prefix) : 0;
  const int block_limit = visible_limit(a, min(first_row + kWarps, a.q_tokens) - 1, prefix);

  float* q_row = q_rows + warp * D;
  if (active) {
    for (int d = lane; d < D; d += kWarpSize) q_row[d] = a.scale * a.q.load(q_at(a, b, i, h) + d);
  }
  float m = -INFINITY, l = 0.0f;
  float o[kDimsPerLane];
#pragma unroll
  for (int e = 0; e < kDimsPerLane; ++e) o[e] = 0.0f;

  for (int j0 = 0; j0 < block_limit; j0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and q_row written, first time round)
    load_tile(k_tile, a.k, j0, a.kv_tokens, D, [&](int j) { return kv_at(a, b, j, h); });
    load_tile(v_tile, a.v, j0, a.kv_tokens, D, [&](int j) { return kv_at(a, b, j, h); });
    __syncthreads();
    if (!active) continue;
    const int j = j0 + lane;
    float s = -INFINITY;
    if (j < limit) {
      s = dot(q_row, k_tile + lane * (D + 1), D);
      if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
    }
    const float tile_max = warp_max(s);
    if (tile_max == -INFINITY) continue;  // nothing visible in this tile (warp-uniform)
    const float m_new = fmaxf(m, tile_max);
    const float correction = expf(m - m_new);  // 0 on the first visible tile (m = −inf)
    const float p = j < limit ? expf(s - m_new) : 0.0f;
    l = l * correction + warp_sum(p);
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) o[e] *= correction;
    for (int r = 0; r < kTile; ++r) {
      const float pr = __shfl_sync(kFullWarp, p, r);
      const float* v_row = v_tile + r * (D + 1);
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        const int d = lane + e * kWarpSize;
        if (d < D) o[e] += pr * v_row[d];
      }
    }
    m = m_new;
  }
  if (!active) return;
  const float inverse = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int e = 0; e < kDimsPerLane; ++e) {
    const int d = lane + e * kWarpSize;
    if (d < D) a.out.store(out_at(a, b, i, h) + d, o[e] * inverse);
  }
  if (lane == 0) a.lse[row_at(a, b, h, i)] = l > 0.0f ? m + logf(l) : -INFINITY;
}

// δ_i = Σ_d dO_id·O_id, one warp per (b, h, i); grid ⌈B·H·Tq / kWarps⌉.
__global__ void __launch_bounds__(kThreads) delta_kernel(AttentionArgs a) {
  const size_t row = static_cast<size_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= static_cast<size_t>(a.batch) * a.heads * a.q_tokens) return;
  const int i = static_cast<int>(row % a.q_tokens);
  const int h = static_cast<int>((row / a.q_tokens) % a.heads);
  const int b = static_cast<int>(row / (static_cast<size_t>(a.q_tokens) * a.heads));
  const size_t at = out_at(a, b, i, h);
  float sum = 0.0f;
  for (int d = lane; d < a.head_dim; d += kWarpSize)
    sum += a.dout.load(at + d) * a.out.load(at + d);
  sum = warp_sum(sum);
  if (lane == 0) a.delta[row] = sum;
}

// dQ (and dbias) over query rows. dbias[h] sums dS over the batch, so when it is wanted a
// block owns (h, a tile of queries) for every b and adds the batch in order: grid
// (H, ⌈Tq / kWarps⌉). Otherwise a block owns one (b, h): grid (B·H, ⌈Tq / kWarps⌉).
// No two blocks ever write one element, so the result does not depend on scheduling.
// shared: K, V tiles [kTile][D+1], q rows and dO rows [kWarps][D].
__global__ void __launch_bounds__(kThreads) backward_query_kernel(AttentionArgs a) {
  extern __shared__ float shared[];
  const int D = a.head_dim;
  float* k_tile = shared;
  float* v_tile = k_tile + kTile * (D + 1);
  float* q_rows = v_tile + kTile * (D + 1);
  float* do_rows = q_rows + kWarps * D;
  const bool whole_batch = a.dbias != nullptr;
  const int h = blockIdx.x % a.heads;
  const int b_begin = whole_batch ? 0 : blockIdx.x / a.heads;
  const int b_end = whole_batch ? a.batch : b_begin + 1;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int first_row = blockIdx.y * kWarps;
  const int i = first_row + warp;
  const bool active = i < a.q_tokens;
  float* q_row = q_rows + warp * D;
  float* do_row = do_rows + warp * D;

  for (int b = b_begin; b < b_end; ++b) {
    const int prefix = prefix_of(a, b);
    const int limit = active ? visible_limit(a, i, prefix) : 0;
    const int block_limit = visible_limit(a, min(first_row + kWarps, a.q_tokens) - 1, prefix);
    __syncthreads();  // the previous b's rows and tiles are consumed
    float lse = 0.0f, delta = 0.0f;
    if (active) {
      for (int d = lane; d < D; d += kWarpSize) {
        q_row[d] = a.scale * a.q.load(q_at(a, b, i, h) + d);
        do_row[d] = a.dout.load(out_at(a, b, i, h) + d);
      }
      lse = a.lse[row_at(a, b, h, i)];
      delta = a.delta[row_at(a, b, h, i)];
    }
    float dq[kDimsPerLane];
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) dq[e] = 0.0f;

    for (int j0 = 0; j0 < block_limit; j0 += kTile) {
      __syncthreads();
      load_tile(k_tile, a.k, j0, a.kv_tokens, D, [&](int j) { return kv_at(a, b, j, h); });
      load_tile(v_tile, a.v, j0, a.kv_tokens, D, [&](int j) { return kv_at(a, b, j, h); });
      __syncthreads();
      if (!active || j0 >= limit) continue;
      const int j = j0 + lane;
      float ds = 0.0f;
      if (j < limit) {
        float s = dot(q_row, k_tile + lane * (D + 1), D);
        if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
        const float p = expf(s - lse);
        const float dp = dot(do_row, v_tile + lane * (D + 1), D);
        ds = p * (dp - delta);
        if (a.dbias != nullptr) a.dbias[bias_at(a, h, i, j)] += ds;
      }
      for (int r = 0; r < kTile; ++r) {
        const float dsr = __shfl_sync(kFullWarp, ds, r);
        const float* k_row = k_tile + r * (D + 1);
#pragma unroll
        for (int e = 0; e < kDimsPerLane; ++e) {
          const int d = lane + e * kWarpSize;
          if (d < D) dq[e] += dsr * k_row[d];
        }
      }
    }
    if (!active || !a.dq.present()) continue;
    const size_t at = q_at(a, b, i, h);
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) {
      const int d = lane + e * kWarpSize;
      if (d < D) a.dq.store(at + d, a.dq.load(at + d) + a.scale * dq[e]);
    }
  }
}

// dK and dV over key rows; grid (B·H, ⌈Tk / kWarps⌉).
// shared: Q, dO tiles [kTile][D+1], lse and δ [kTile], k rows and v rows [kWarps][D].
__global__ void __launch_bounds__(kThreads) backward_key_kernel(AttentionArgs a) {
  extern __shared__ float shared[];
  const int D = a.head_dim;
  float* q_tile = shared;
  float* do_tile = q_tile + kTile * (D + 1);
  float* lse_tile = do_tile + kTile * (D + 1);
  float* delta_tile = lse_tile + kTile;
  float* k_rows = delta_tile + kTile;
  float* v_rows = k_rows + kWarps * D;
  const int b = blockIdx.x / a.heads, h = blockIdx.x % a.heads;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int first_key = blockIdx.y * kWarps;
  const int j = first_key + warp;
  const bool active = j < a.kv_tokens;
  const int prefix = prefix_of(a, b);

  float* k_row = k_rows + warp * D;
  float* v_row = v_rows + warp * D;
  if (active) {
    for (int d = lane; d < D; d += kWarpSize) {
      k_row[d] = a.k.load(kv_at(a, b, j, h) + d);
      v_row[d] = a.v.load(kv_at(a, b, j, h) + d);
    }
  }
  float dk[kDimsPerLane], dv[kDimsPerLane];
#pragma unroll
  for (int e = 0; e < kDimsPerLane; ++e) dk[e] = dv[e] = 0.0f;

  for (int i0 = 0; i0 < a.q_tokens; i0 += kTile) {
    // limits grow with i, so if the tile's last query cannot see this block's first key,
    // no query of the tile sees any of its keys (block-uniform, so the barriers stay safe)
    const int tile_last = min(i0 + kTile, a.q_tokens) - 1;
    if (visible_limit(a, tile_last, prefix) <= first_key) continue;
    __syncthreads();
    load_tile(q_tile, a.q, i0, a.q_tokens, D, [&](int i) { return q_at(a, b, i, h); });
    load_tile(do_tile, a.dout, i0, a.q_tokens, D, [&](int i) { return out_at(a, b, i, h); });
    if (threadIdx.x < kTile) {
      const int i = i0 + threadIdx.x;
      lse_tile[threadIdx.x] = i < a.q_tokens ? a.lse[row_at(a, b, h, i)] : 0.0f;
      delta_tile[threadIdx.x] = i < a.q_tokens ? a.delta[row_at(a, b, h, i)] : 0.0f;
    }
    __syncthreads();
    if (!active) continue;
    const int i = i0 + lane;
    float p = 0.0f, ds = 0.0f;
    if (i < a.q_tokens && j < visible_limit(a, i, prefix)) {
      float s = a.scale * dot(q_tile + lane * (D + 1), k_row, D);
      if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
      p = expf(s - lse_tile[lane]);
      const float dp = dot(do_tile + lane * (D + 1), v_row, D);
      ds = p * (dp - delta_tile[lane]);
    }
    for (int r = 0; r < kTile; ++r) {
      const float pr = __shfl_sync(kFullWarp, p, r);
      const float dsr = __shfl_sync(kFullWarp, ds, r);
      const float* q_r = q_tile + r * (D + 1);
      const float* do_r = do_tile + r * (D + 1);
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        const int d = lane + e * kWarpSize;
        if (d < D) {
          dv[e] += pr * do_r[d];
          dk[e] += dsr * q_r[d];
        }
      }
    }
  }
  if (!active) return;
  const size_t at = kv_at(a, b, j, h);
#pragma unroll
  for (int e = 0; e < kDimsPerLane; ++e) {
    const int d = lane + e * kWarpSize;
    if (d >= D) continue;
    if (a.dk.present()) a.dk.store(at + d, a.dk.load(at + d) + a.scale * dk[e]);
    if (a.dv.present()) a.dv.store(at + d, a.dv.load(at + d) + dv[e]);
  }
}

size_t forward_shared_bytes(int D) { return sizeof(float) * (2 * kTile * (D + 1) + kWarps * D); }
size_t query_shared_bytes(int D) { return sizeof(float) * (2 * kTile * (D + 1) + 2 * kWarps * D); }
size_t key_shared_bytes(int D) {
  return sizeof(float) * (2 * kTile * (D + 1) + 2 * kTile + 2 * kWarps * D);
}

// Elements a strided [B, T, H·D] view must hold: the last row's last element.
size_t strided_extent(int B, int T, int stride, int width) {
  if (B == 0 || T == 0) return 0;
  return (static_cast<size_t>(B) * T - 1) * stride + width;
}

constexpr int kMaxGridY = 65535;

AttentionArgs attention_inputs(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                               Tensor prefix_lengths, const AttentionShape& s) {
  const int HD = s.heads * s.head_dim;
  require(s.batch >= 0 && s.q_tokens >= 0 && s.kv_tokens >= 0 && s.heads > 0 && s.head_dim > 0,
          "attention: negative or zero shape");
  require(s.head_dim <= kMaxAttentionHeadDim, "attention: head_dim " + std::to_string(s.head_dim) +
                                                  " exceeds the CUDA kernels' " +
                                                  std::to_string(kMaxAttentionHeadDim));
  require(s.q_row_stride >= HD, "attention: q_row_stride is smaller than H·D");
  require(s.kv_row_stride >= HD, "attention: kv_row_stride is smaller than H·D");
  require((s.q_tokens + kWarps - 1) / kWarps <= kMaxGridY &&
              (s.kv_tokens + kWarps - 1) / kWarps <= kMaxGridY,
          "attention: too many tokens for the CUDA grid");
  const size_t q_extent = strided_extent(s.batch, s.q_tokens, s.q_row_stride, HD);
  const size_t kv_extent = strided_extent(s.batch, s.kv_tokens, s.kv_row_stride, HD);
  AttentionArgs a{};
  a.q = floats_covering(q, q_extent, "attention: q");
  a.k = floats_covering(k, kv_extent, "attention: k");
  a.v = floats_covering(v, kv_extent, "attention: v");
  a.out = floats_covering(out, product(s.batch, s.q_tokens) * HD, "attention: out");
  a.lse = f32_covering(lse, product(s.batch, s.heads) * s.q_tokens, "attention: lse");
  a.bias = optional_f32(bias, product(s.heads, s.q_tokens) * s.kv_tokens, "attention: bias");
  if (s.mask == AttentionMask::kPrefix) {
    a.prefix_lengths = i32_covering(prefix_lengths, s.batch, "attention: prefix_lengths");
  }
  a.batch = s.batch;
  a.q_tokens = s.q_tokens;
  a.kv_tokens = s.kv_tokens;
  a.heads = s.heads;
  a.head_dim = s.head_dim;
  a.q_stride = s.q_row_stride;
  a.kv_stride = s.kv_row_stride;
  a.scale = s.scale;
  a.mask = s.mask;
  return a;
}

dim3 grid_over(const AttentionArgs& a, int rows) {
  return dim3(static_cast<unsigned>(a.batch * a.heads),
              static_cast<unsigned>((rows + kWarps - 1) / kWarps));
}

}  // namespace

AttentionKernel choose_attention_kernel(bool bf16_operands, int head_dim) {
  const char* set = std::getenv("MOLT_CUDA_ATTENTION");
  const std::string mode = set != nullptr ? set : "";
  if (mode == "reference") return AttentionKernel::kReference;
  if (!mode.empty() && mode != "auto") {
    throw UserError("environment variable MOLT_CUDA_ATTENTION is \"" + mode +
                    "\": it must be \"auto\" or \"reference\"");
  }
  return bf16_operands && tensor_core_head_dim(head_dim) ? AttentionKernel::kTensorCore
                                                         : AttentionKernel::kReference;
}

void attention_forward(const DeviceContext& ctx, Tensor out, Tensor lse, Tensor q, Tensor k,
                       Tensor v, Tensor bias, Tensor prefix_lengths, const AttentionShape& shape) {
  const AttentionArgs a = attention_inputs(out, lse, q, k, v, bias, prefix_lengths, shape);
  if (a.batch == 0 || a.q_tokens == 0) return;
  if (choose_attention_kernel(a.q.bf16 && a.k.bf16 && a.v.bf16, a.head_dim) ==
      AttentionKernel::kTensorCore) {
    return tensor_core_attention_forward(ctx, a);
  }
  forward_kernel<<<grid_over(a, a.q_tokens), kThreads, forward_shared_bytes(a.head_dim),
                   ctx.stream>>>(a);
  MOLT_CUDA_CHECK_LAUNCH();
}

void attention_backward(const DeviceContext& ctx, Tensor dq, Tensor dk, Tensor dv, Tensor dbias,
                        Tensor dout, Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                        Tensor bias, Tensor prefix_lengths, const AttentionShape& shape) {
  AttentionArgs a = attention_inputs(out, lse, q, k, v, bias, prefix_lengths, shape);
  const int HD = shape.heads * shape.head_dim;
  const size_t q_extent = strided_extent(shape.batch, shape.q_tokens, shape.q_row_stride, HD);
  const size_t kv_extent = strided_extent(shape.batch, shape.kv_tokens, shape.kv_row_stride, HD);
  a.dout = floats_covering(dout, product(shape.batch, shape.q_tokens) * HD, "attention: dout");
  a.dq = optional_floats(dq, q_extent, "attention: dq");
  a.dk = optional_floats(dk, kv_extent, "attention: dk");
  a.dv = optional_floats(dv, kv_extent, "attention: dv");
  a.dbias = optional_f32(dbias, product(shape.heads, shape.q_tokens) * shape.kv_tokens,
                         "attention: dbias");
  if (a.batch == 0 || a.q_tokens == 0 || a.kv_tokens == 0) return;
  const bool tensor_cores =
      choose_attention_kernel(a.q.bf16 && a.k.bf16 && a.v.bf16 && a.dout.bf16, a.head_dim) ==
      AttentionKernel::kTensorCore;
  // one scratch block: δ, then (tensor cores) the partial dbias sums, 256-byte aligned
  const size_t rows = product(a.batch, a.heads) * a.q_tokens;
  const size_t delta_floats = (rows + 63) / 64 * 64;
  const size_t extra = tensor_cores ? tensor_core_backward_scratch_floats(a) : 0;
  a.delta = ctx.scratch->floats(delta_floats + extra);
  delta_kernel<<<static_cast<unsigned>((rows + kWarps - 1) / kWarps), kThreads, 0, ctx.stream>>>(a);
  MOLT_CUDA_CHECK_LAUNCH();
  if (tensor_cores) return tensor_core_attention_backward(ctx, a, a.delta + delta_floats);
  if (a.dq.present() || a.dbias != nullptr) {
    // with dbias, a block owns one head for the whole batch (see backward_query_kernel)
    const dim3 grid(a.dbias != nullptr ? a.heads : a.batch * a.heads,
                    (a.q_tokens + kWarps - 1) / kWarps);
    backward_query_kernel<<<grid, kThreads, query_shared_bytes(a.head_dim), ctx.stream>>>(a);
    MOLT_CUDA_CHECK_LAUNCH();
  }
  if (a.dk.present() || a.dv.present()) {
    backward_key_kernel<<<grid_over(a, a.kv_tokens), kThreads, key_shared_bytes(a.head_dim),
                          ctx.stream>>>(a);
    MOLT_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace molt::kernels::cuda
