// Attention on tensor cores, for bf16 runs. The math, masks and layouts are those of
// attention.cu (read its header); what changes is who does the products. S = Q·Kᵀ and
// O += P·V in the forward, and S, dP = dO·Vᵀ, dV += Pᵀ·dO, dK += dSᵀ·Q, dQ += dS·K in the
// backward, are 16×16×16 bf16 MMA tiles with f32 accumulation (CUDA's wmma API), in the
// FlashAttention-2 arrangement:
//   * A block of 4 warps owns 64 rows (queries in the forward and dQ kernels, keys in the
//     dK/dV kernel); each warp owns 16 of them, one MMA tile high. Tiles of 64 rows of
//     the other side are staged in shared memory as bf16 and shared by the four warps.
//   * A wmma fragment's register layout is unspecified, so element-wise work (scale,
//     bias, mask, exp, the online-softmax rescale of O) goes through shared memory: a warp
//     stores its 16×64 scores as f32, lanes 2r and 2r+1 own row r (32 columns each, read
//     in a rotated order so the 32 lanes fall on different banks), and the next
//     product reads P (or dS) back as a bf16 tile. O lives in shared memory as f32 so its
//     rows can be rescaled; dQ, dK and dV are never rescaled and stay in fragments.
//   * Rounding: q, k, v, dout are bf16 already, so S and dP are the reference's up to
//     summation order; l, lse, δ and dbias stay f32. P is rounded to bf16 before O += P·V
//     and dV += Pᵀ·dO. dS is not rounded once but split, dS = hi + lo with hi = bf16(dS)
//     and lo = bf16(dS − hi), and each of dQ += dS·K and dK += dSᵀ·Q takes two MMAs: a row
//     of dS sums to zero (Σ_j P_ij·(dP_ij − δ_i) = 0), so dQ and dK are small differences
//     of large terms, and one bf16 rounding of dS (2⁻⁹ relative) missed the CUDA test's
//     bf16 bound by up to 1.3× in simulation; the split keeps ~16 bits.
//   * The backward has the reference's two kernels (dQ and dbias over query tiles, dK and
//     dV over key tiles), each recomputing S and dP. No element is written by two blocks
//     and there are no atomics, so two runs give the same bits. dbias sums over the batch:
//     the batch is cut into G groups (batch_groups: enough blocks to fill the GPU), a dQ
//     block owns (group, h, query tile) and adds its group's b in order into the group's
//     partial dbias (dbias itself when G = 1), and a last kernel adds the partials to dbias
//     in group order.
// head_dim is a template parameter (16, 32, 64, 128) so the fragment arrays stay in
// registers. Shared memory per block, D = 64: 70 KiB forward, 88.5 KiB dQ, 97.5 KiB dK/dV;
// D = 128: 110, 120.5, 129.5 KiB (above the 48 KiB default, so each kernel opts in).
// Tensor-core bf16 MMA needs sm_80 or newer; molt builds for sm_90 (sm_86/89 would also
// lack the shared memory for D = 128: their opt-in limit is 99 KiB).
#include "kernels/cuda/attention_tensor_core.h"

#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reductions.cuh"

namespace molt::kernels::cuda {
namespace {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kRows = 64;                    // rows a block owns; rows of a staged tile
constexpr int kWarpRows = 16;                // rows a warp owns: one MMA tile
constexpr int kWarps = kRows / kWarpRows;    // 4
constexpr int kThreads = kWarps * kWarpSize;  // 128
constexpr int kScorePitch = kRows + 4;       // f32 rows of scores (wmma: a multiple of 4)
constexpr int kProbPitch = kRows + 8;        // bf16 rows of P or dS (wmma: a multiple of 8)
template <int D>
constexpr int kTilePitch = D + 8;  // bf16 rows of a staged q, k, v or dout tile
template <int D>
constexpr int kOutPitch = D + 4;  // f32 rows of O, or of dQ/dK/dV on their way out

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragBRows = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBColumns = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Every region starts on a 128-byte boundary (wmma needs 32).
__host__ __device__ constexpr size_t aligned(size_t bytes) { return (bytes + 127) / 128 * 128; }
template <int D>
__host__ __device__ constexpr size_t tile_bytes() {
  return aligned(sizeof(bf16) * kRows * kTilePitch<D>);
}
constexpr size_t kScoreBytes = aligned(sizeof(float) * kRows * kScorePitch);
constexpr size_t kProbBytes = aligned(sizeof(bf16) * kRows * kProbPitch);
constexpr size_t kRowStatBytes = aligned(sizeof(float) * kRows);
template <int D>
__host__ __device__ constexpr size_t out_bytes() {
  return aligned(sizeof(float) * kRows * kOutPitch<D>);
}
// The backward kernels stage their gradients in the two score regions, which are adjacent.
static_assert(sizeof(float) * kRows * (128 + 4) <= 2 * kScoreBytes, "staging does not fit");

// Hands out consecutive regions of the dynamic shared memory from `base`. Without a base
// it only adds up their sizes: that is how the host sizes a kernel's shared memory, from the
// very carving the kernel does (shared_bytes).
struct SharedCursor {
  unsigned char* base = nullptr;
  size_t used = 0;
  template <typename T>
  __host__ __device__ T* take(size_t bytes) {
    T* region = base != nullptr ? reinterpret_cast<T*>(base + used) : nullptr;
    used += bytes;
    return region;
  }
};

// Each kernel's shared memory, region by region in the order carve() takes them (a braced
// list is evaluated left to right).
template <int D>
struct ForwardShared {
  bf16 *q_tile, *k_tile, *v_tile;
  float* scores;
  bf16* probs;
  float* o;  // the running output, f32
  __host__ __device__ static ForwardShared carve(SharedCursor& at) {
    return {at.take<bf16>(tile_bytes<D>()), at.take<bf16>(tile_bytes<D>()),
            at.take<bf16>(tile_bytes<D>()), at.take<float>(kScoreBytes),
            at.take<bf16>(kProbBytes),      at.take<float>(out_bytes<D>())};
  }
};
template <int D>
struct QueryShared {
  bf16 *q_tile, *do_tile, *k_tile, *v_tile;
  float *scores, *dprobs;       // adjacent: together the staging of dQ
  bf16 *dscores, *dscores_lo;   // bf16(dS) and bf16(dS − bf16(dS))
  float *lse, *delta;
  __host__ __device__ static QueryShared carve(SharedCursor& at) {
    return {at.take<bf16>(tile_bytes<D>()), at.take<bf16>(tile_bytes<D>()),
            at.take<bf16>(tile_bytes<D>()), at.take<bf16>(tile_bytes<D>()),
            at.take<float>(kScoreBytes),    at.take<float>(kScoreBytes),
            at.take<bf16>(kProbBytes),      at.take<bf16>(kProbBytes),
            at.take<float>(kRowStatBytes),  at.take<float>(kRowStatBytes)};
  }
};
template <int D>
struct KeyShared {
  bf16 *k_tile, *v_tile, *q_tile, *do_tile;
  float *scores, *dprobs;               // Sᵀ, dPᵀ; adjacent: together the staging of dK, dV
  bf16 *probs, *dscores, *dscores_lo;   // Pᵀ, and dSᵀ as bf16(dS) + bf16(dS − bf16(dS))
  float *lse, *delta;
  __host__ __device__ static KeyShared carve(SharedCursor& at) {
    return {at.take<bf16>(tile_bytes<D>()), at.take<bf16>(tile_bytes<D>()),
            at.take<bf16>(tile_bytes<D>()), at.take<bf16>(tile_bytes<D>()),
            at.take<float>(kScoreBytes),    at.take<float>(kScoreBytes),
            at.take<bf16>(kProbBytes),      at.take<bf16>(kProbBytes),
            at.take<bf16>(kProbBytes),      at.take<float>(kRowStatBytes),
            at.take<float>(kRowStatBytes)};
  }
};

// Bytes of shared memory a kernel's layout takes.
template <typename Layout>
size_t shared_bytes() {
  SharedCursor count;
  Layout::carve(count);
  return count.used;
}

// tile[r][d] (pitch D+8) ← rows first..first+63 of a strided tensor as bf16, 0 past `rows`.
// `at(row)` is the element offset of the row's head slice. Called by the whole block. With
// `vectors` (AttentionArgs::vector_rows: src is bf16 and every row slice starts on 16
// bytes) eight elements move per load; the pitch D+8 keeps the tile's rows on 16 bytes too.
template <int D, typename Offset>
__device__ void load_tile(bf16* tile, FloatArray src, int first, int rows, Offset at,
                          bool vectors) {
  if (vectors) {
    constexpr int kChunks = D / 8;  // 16-byte chunks per row
    const bf16* data = static_cast<const bf16*>(src.data);
    for (int e = threadIdx.x; e < kRows * kChunks; e += kThreads) {
      const int r = e / kChunks, d = (e % kChunks) * 8;
      const int row = first + r;
      const uint4 chunk = row < rows ? *reinterpret_cast<const uint4*>(data + at(row) + d)
                                     : make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(tile + r * kTilePitch<D> + d) = chunk;
    }
    return;
  }
  for (int e = threadIdx.x; e < kRows * D; e += kThreads) {
    const int r = e / D, d = e % D;
    const int row = first + r;
    tile[r * kTilePitch<D> + d] = __float2bfloat16(row < rows ? src.load(at(row) + d) : 0.0f);
  }
}

// stats[r] ← lse or δ of query rows first..first+63 (0 past the last). Whole block.
__device__ void load_row_stats(float* stats, const float* src, size_t first_at, int first,
                               int rows) {
  for (int r = threadIdx.x; r < kRows; r += kThreads) {
    stats[r] = first + r < rows ? src[first_at + r] : 0.0f;
  }
}

// out[r][c] = Σ_d rows[r][d]·tile[c][d] for the warp's 16 rows and the tile's 64:
// rows is the warp's first row of a staged tile, out its first row of a score region.
template <int D>
__device__ void rows_dot_tile(float* out, const bf16* rows, const bf16* tile) {
#pragma unroll
  for (int nb = 0; nb < kRows / 16; ++nb) {
    FragAcc acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int kb = 0; kb < D / 16; ++kb) {
      FragA a;
      FragBColumns b;  // column n of Tileᵀ is row n of the tile
      wmma::load_matrix_sync(a, rows + kb * 16, kTilePitch<D>);
      wmma::load_matrix_sync(b, tile + nb * 16 * kTilePitch<D> + kb * 16, kTilePitch<D>);
      wmma::mma_sync(acc, a, b, acc);
    }
    wmma::store_matrix_sync(out + nb * 16, acc, kScorePitch, wmma::mem_row_major);
  }
}

// acc[db] += P·tile for the warp's 16 rows of P (bf16, pitch kProbPitch) and a staged
// 64×D tile: acc[db] covers dims db·16..db·16+15.
template <int D>
__device__ void accumulate_p_times_tile(FragAcc (&acc)[D / 16], const bf16* p, const bf16* tile) {
#pragma unroll
  for (int kb = 0; kb < kRows / 16; ++kb) {
    FragA a;
    wmma::load_matrix_sync(a, p + kb * 16, kProbPitch);
#pragma unroll
    for (int db = 0; db < D / 16; ++db) {
      FragBRows b;
      wmma::load_matrix_sync(b, tile + kb * 16 * kTilePitch<D> + db * 16, kTilePitch<D>);
      wmma::mma_sync(acc[db], a, b, acc[db]);
    }
  }
}

// grad[row] += scale·acc for the warp's 16 rows, through `staging` (the warp's 16 rows of
// f32, pitch D+4): rows first..first+15, those below `rows` only. Called by a whole warp.
template <int D, typename Offset>
__device__ void add_rows(FloatArray grad, FragAcc (&acc)[D / 16], float* staging, int first,
                         int rows, float scale, Offset at) {
#pragma unroll
  for (int db = 0; db < D / 16; ++db) {
    wmma::store_matrix_sync(staging + db * 16, acc[db], kOutPitch<D>, wmma::mem_row_major);
  }
  __syncwarp();
  for (int e = threadIdx.x % kWarpSize; e < kWarpRows * D; e += kWarpSize) {
    const int r = e / D, d = e % D;
    if (first + r >= rows) continue;
    const size_t i = at(first + r) + d;
    grad.store(i, grad.load(i) + scale * staging[r * kOutPitch<D> + d]);
  }
  __syncwarp();
}

// x as hi + lo, two bf16 whose sum keeps ~16 significant bits of x.
__device__ __forceinline__ void split_bf16(float x, bf16* hi, bf16* lo) {
  const bf16 high = __float2bfloat16(x);
  *hi = high;
  *lo = __float2bfloat16(x - __bfloat162float(high));
}

// The column of a 64-wide tile that lane half `half` of row `row` visits at step t. With
// the f32 score pitch of 68 words, the 32 lanes of a warp then hit the 32 banks:
// bank = (5·row + t + 16·half) mod 32, distinct over the warp's 16 rows and two halves.
__device__ __forceinline__ int column(int half, int t, int row) {
  return half * 32 + ((t + row + 16 * half) & 31);
}

template <int D>
__global__ void __launch_bounds__(kThreads) forward_kernel(AttentionArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  SharedCursor cursor{shared};
  const auto [q_tile, k_tile, v_tile, scores, probs, o] = ForwardShared<D>::carve(cursor);

  const int b = blockIdx.x / a.heads, h = blockIdx.x % a.heads;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int q0 = blockIdx.y * kRows;
  const int prefix = prefix_of(a, b);
  const int block_limit = visible_limit(a, min(q0 + kRows, a.q_tokens) - 1, prefix);
  const int row = warp * kWarpRows + lane / 2, half = lane % 2;  // this lane's row, half
  const int i = q0 + row;
  const int limit = i < a.q_tokens ? visible_limit(a, i, prefix) : 0;
  float* score_row = scores + row * kScorePitch;
  bf16* prob_row = probs + row * kProbPitch;
  float* o_half = o + row * kOutPitch<D> + half * (D / 2);

  load_tile<D>(q_tile, a.q, q0, a.q_tokens, [&](int r) { return q_at(a, b, r, h); }, a.vector_rows);
  for (int e = threadIdx.x; e < kRows * kOutPitch<D>; e += kThreads) o[e] = 0.0f;
  float m = -INFINITY, l = 0.0f;  // the row's running max and sum, the same in both lanes

  for (int j0 = 0; j0 < block_limit; j0 += kRows) {
    __syncthreads();  // the previous tile is consumed (and q, o ready, first time round)
    load_tile<D>(k_tile, a.k, j0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
    load_tile<D>(v_tile, a.v, j0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
    __syncthreads();
    rows_dot_tile<D>(scores + warp * kWarpRows * kScorePitch,
                     q_tile + warp * kWarpRows * kTilePitch<D>, k_tile);
    __syncwarp();
    float tile_max = -INFINITY;
    for (int t = 0; t < 32; ++t) {
      const int c = column(half, t, row), j = j0 + c;
      float s = -INFINITY;
      if (j < limit) {
        s = a.scale * score_row[c];
        if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
      }
      score_row[c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarp, tile_max, 1));
    const bool visible = tile_max != -INFINITY;  // the row sees a key of this tile
    const float m_new = visible ? fmaxf(m, tile_max) : m;
    const float correction = visible ? expf(m - m_new) : 1.0f;  // 0 on the first visible tile
    float sum = 0.0f;
    for (int t = 0; t < 32; ++t) {
      const int c = column(half, t, row);
      const float p = visible ? expf(score_row[c] - m_new) : 0.0f;
      sum += p;
      prob_row[c] = __float2bfloat16(p);
    }
    sum += __shfl_xor_sync(kFullWarp, sum, 1);
    l = l * correction + sum;
    m = m_new;
    if (correction != 1.0f) {
      for (int d = 0; d < D / 2; ++d) o_half[d] *= correction;
    }
    __syncwarp();
    float* o_warp = o + warp * kWarpRows * kOutPitch<D>;
    FragAcc acc[D / 16];
#pragma unroll
    for (int db = 0; db < D / 16; ++db) {
      wmma::load_matrix_sync(acc[db], o_warp + db * 16, kOutPitch<D>, wmma::mem_row_major);
    }
    accumulate_p_times_tile<D>(acc, probs + warp * kWarpRows * kProbPitch, v_tile);
#pragma unroll
    for (int db = 0; db < D / 16; ++db) {
      wmma::store_matrix_sync(o_warp + db * 16, acc[db], kOutPitch<D>, wmma::mem_row_major);
    }
    __syncwarp();
  }
  __syncthreads();  // o is written (or, with no tile, zeroed by other threads)
  if (i >= a.q_tokens) return;
  const float inverse = l > 0.0f ? 1.0f / l : 0.0f;
  const size_t at = out_at(a, b, i, h) + half * (D / 2);
  for (int d = 0; d < D / 2; ++d) a.out.store(at + d, o_half[d] * inverse);
  if (half == 0) a.lse[row_at(a, b, h, i)] = l > 0.0f ? m + logf(l) : -INFINITY;
#endif
}

// dQ and dbias over query tiles: grid (groups·H, ⌈Tq/64⌉). Block x = slot·H + h takes the
// batch entries [slot·B/groups, (slot+1)·B/groups) in order. Without dbias every b is its
// own group (groups = B); with it, group `slot` adds into partials + slot·H·Tq·Tk, or into
// dbias itself when groups = 1.
template <int D>
__global__ void __launch_bounds__(kThreads)
    backward_query_kernel(AttentionArgs a, int groups, float* partials) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  SharedCursor cursor{shared};
  const auto [q_tile, do_tile, k_tile, v_tile, scores, dprobs, dscores, dscores_lo, lse, delta] =
      QueryShared<D>::carve(cursor);

  const int h = blockIdx.x % a.heads, slot = blockIdx.x / a.heads;
  const int b_begin = slot * a.batch / groups, b_end = (slot + 1) * a.batch / groups;
  float* dbias = a.dbias == nullptr || groups == 1
                     ? a.dbias
                     : partials + static_cast<size_t>(slot) * a.heads * a.q_tokens * a.kv_tokens;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int q0 = blockIdx.y * kRows;
  const int row = warp * kWarpRows + lane / 2, half = lane % 2;
  const int i = q0 + row;
  float* score_row = scores + row * kScorePitch;
  float* dprob_row = dprobs + row * kScorePitch;
  bf16* dscore_row = dscores + row * kProbPitch;
  bf16* dscore_lo_row = dscores_lo + row * kProbPitch;

  for (int b = b_begin; b < b_end; ++b) {
    const int prefix = prefix_of(a, b);
    const int block_limit = visible_limit(a, min(q0 + kRows, a.q_tokens) - 1, prefix);
    const int limit = i < a.q_tokens ? visible_limit(a, i, prefix) : 0;
    __syncthreads();  // the previous b is done with every region
    load_tile<D>(q_tile, a.q, q0, a.q_tokens, [&](int r) { return q_at(a, b, r, h); }, a.vector_rows);
    load_tile<D>(do_tile, a.dout, q0, a.q_tokens, [&](int r) { return out_at(a, b, r, h); }, a.vector_rows);
    load_row_stats(lse, a.lse, row_at(a, b, h, q0), q0, a.q_tokens);
    load_row_stats(delta, a.delta, row_at(a, b, h, q0), q0, a.q_tokens);
    FragAcc dq[D / 16];
#pragma unroll
    for (int db = 0; db < D / 16; ++db) wmma::fill_fragment(dq[db], 0.0f);

    for (int j0 = 0; j0 < block_limit; j0 += kRows) {
      __syncthreads();
      load_tile<D>(k_tile, a.k, j0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
      load_tile<D>(v_tile, a.v, j0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
      __syncthreads();
      rows_dot_tile<D>(scores + warp * kWarpRows * kScorePitch,
                       q_tile + warp * kWarpRows * kTilePitch<D>, k_tile);
      rows_dot_tile<D>(dprobs + warp * kWarpRows * kScorePitch,
                       do_tile + warp * kWarpRows * kTilePitch<D>, v_tile);
      __syncwarp();
      for (int t = 0; t < 32; ++t) {
        const int c = column(half, t, row), j = j0 + c;
        float ds = 0.0f;
        if (j < limit) {
          float s = a.scale * score_row[c];
          if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
          const float p = expf(s - lse[row]);
          ds = p * (dprob_row[c] - delta[row]);
          if (dbias != nullptr) dbias[bias_at(a, h, i, j)] += ds;
        }
        split_bf16(ds, dscore_row + c, dscore_lo_row + c);
      }
      __syncwarp();
      accumulate_p_times_tile<D>(dq, dscores + warp * kWarpRows * kProbPitch, k_tile);
      accumulate_p_times_tile<D>(dq, dscores_lo + warp * kWarpRows * kProbPitch, k_tile);
    }
    __syncthreads();  // every warp is done with the score regions, the staging
    if (a.dq.present()) {
      add_rows<D>(a.dq, dq, scores + warp * kWarpRows * kOutPitch<D>, q0 + warp * kWarpRows,
                  a.q_tokens, a.scale, [&](int r) { return q_at(a, b, r, h); });
    }
  }
#endif
}

// dK and dV over key tiles: grid (B·H, ⌈Tk/64⌉). The warps hold Sᵀ and dPᵀ (rows = keys).
template <int D>
__global__ void __launch_bounds__(kThreads) backward_key_kernel(AttentionArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  SharedCursor cursor{shared};
  const auto [k_tile, v_tile, q_tile, do_tile, scores, dprobs, probs, dscores, dscores_lo, lse,
              delta] = KeyShared<D>::carve(cursor);

  const int b = blockIdx.x / a.heads, h = blockIdx.x % a.heads;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int k0 = blockIdx.y * kRows;
  const int prefix = prefix_of(a, b);
  const int row = warp * kWarpRows + lane / 2, half = lane % 2;  // a key row
  const int j = k0 + row;
  float* score_row = scores + row * kScorePitch;
  float* dprob_row = dprobs + row * kScorePitch;
  bf16* prob_row = probs + row * kProbPitch;
  bf16* dscore_row = dscores + row * kProbPitch;
  bf16* dscore_lo_row = dscores_lo + row * kProbPitch;

  load_tile<D>(k_tile, a.k, k0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
  load_tile<D>(v_tile, a.v, k0, a.kv_tokens, [&](int r) { return kv_at(a, b, r, h); }, a.vector_rows);
  FragAcc dk[D / 16], dv[D / 16];
#pragma unroll
  for (int db = 0; db < D / 16; ++db) {
    wmma::fill_fragment(dk[db], 0.0f);
    wmma::fill_fragment(dv[db], 0.0f);
  }

  for (int i0 = 0; i0 < a.q_tokens; i0 += kRows) {
    // limits grow with i: if the tile's last query cannot see this block's first key, no
    // query of the tile sees any of its keys (block-uniform, so the barriers stay safe)
    if (visible_limit(a, min(i0 + kRows, a.q_tokens) - 1, prefix) <= k0) continue;
    __syncthreads();
    load_tile<D>(q_tile, a.q, i0, a.q_tokens, [&](int r) { return q_at(a, b, r, h); }, a.vector_rows);
    load_tile<D>(do_tile, a.dout, i0, a.q_tokens, [&](int r) { return out_at(a, b, r, h); }, a.vector_rows);
    load_row_stats(lse, a.lse, row_at(a, b, h, i0), i0, a.q_tokens);
    load_row_stats(delta, a.delta, row_at(a, b, h, i0), i0, a.q_tokens);
    __syncthreads();
    rows_dot_tile<D>(scores + warp * kWarpRows * kScorePitch,
                     k_tile + warp * kWarpRows * kTilePitch<D>, q_tile);
    rows_dot_tile<D>(dprobs + warp * kWarpRows * kScorePitch,
                     v_tile + warp * kWarpRows * kTilePitch<D>, do_tile);
    __syncwarp();
    for (int t = 0; t < 32; ++t) {
      const int c = column(half, t, row), i = i0 + c;
      float p = 0.0f, ds = 0.0f;
      if (i < a.q_tokens && j < visible_limit(a, i, prefix)) {
        float s = a.scale * score_row[c];
        if (a.bias != nullptr) s += a.bias[bias_at(a, h, i, j)];
        p = expf(s - lse[c]);
        ds = p * (dprob_row[c] - delta[c]);
      }
      prob_row[c] = __float2bfloat16(p);
      split_bf16(ds, dscore_row + c, dscore_lo_row + c);
    }
    __syncwarp();
    accumulate_p_times_tile<D>(dv, probs + warp * kWarpRows * kProbPitch, do_tile);
    accumulate_p_times_tile<D>(dk, dscores + warp * kWarpRows * kProbPitch, q_tile);
    accumulate_p_times_tile<D>(dk, dscores_lo + warp * kWarpRows * kProbPitch, q_tile);
  }
  __syncthreads();  // every warp is done with the score regions, the staging
  float* staging = scores + warp * kWarpRows * kOutPitch<D>;
  const auto key_at = [&](int r) { return kv_at(a, b, r, h); };
  if (a.dv.present()) add_rows<D>(a.dv, dv, staging, k0 + warp * kWarpRows, a.kv_tokens, 1.0f, key_at);
  if (a.dk.present()) {
    add_rows<D>(a.dk, dk, staging, k0 + warp * kWarpRows, a.kv_tokens, a.scale, key_at);
  }
#endif
}

// dbias[e] += Σ_g partials[g·cells + e], g ascending.
__global__ void add_partials_kernel(float* dbias, const float* partials, int groups,
                                    size_t cells) {
  MOLT_GRID_STRIDE(e, cells) {
    float sum = dbias[e];
    for (int g = 0; g < groups; ++g) sum += partials[static_cast<size_t>(g) * cells + e];
    dbias[e] = sum;
  }
}

unsigned tiles(int rows) { return static_cast<unsigned>((rows + kRows - 1) / kRows); }

// About two 4-warp blocks per SM of an H100 or H200 (132 SMs). A function of the shape
// alone, so a given job sums dbias in the same order on any GPU.
constexpr long kTargetBlocks = 264;

// How many groups the dQ kernel cuts the batch into when it sums dbias (see the header).
int batch_groups(const AttentionArgs& a) {
  if (a.dbias == nullptr) return a.batch;
  const long blocks_per_group = static_cast<long>(a.heads) * tiles(a.q_tokens);
  const long wanted = (kTargetBlocks + blocks_per_group - 1) / blocks_per_group;
  return static_cast<int>(std::min<long>(std::max<long>(wanted, 1), a.batch));
}

size_t dbias_cells(const AttentionArgs& a) {
  return static_cast<size_t>(a.heads) * a.q_tokens * a.kv_tokens;
}

// Raises `kernel`'s dynamic shared-memory limit to `bytes` and returns them.
template <typename Kernel>
size_t raise_shared_limit(Kernel kernel, size_t bytes) {
  MOLT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)));
  return bytes;
}

// Launches kernel<<<grid, 128, its Layout's bytes>>>(args...). The shared-memory limit is
// raised on the first launch only (one static per kernel: molt drives one device per
// process), not on every op.
template <typename Layout, typename... Args>
void launch(void (*kernel)(Args...), dim3 grid, const DeviceContext& ctx, Args... args) {
  static const size_t bytes = raise_shared_limit(kernel, shared_bytes<Layout>());
  kernel<<<grid, kThreads, bytes, ctx.stream>>>(args...);
  MOLT_CUDA_CHECK_LAUNCH();
}

// Whether every row slice of q, k, v (and dout) is bf16 and starts on 16 bytes.
bool rows_on_16_bytes(const AttentionArgs& a, bool backward) {
  const auto aligned = [](const FloatArray& x) {
    return x.bf16 && reinterpret_cast<uintptr_t>(x.data) % 16 == 0;
  };
  return a.head_dim % 8 == 0 && a.q_stride % 8 == 0 && a.kv_stride % 8 == 0 &&
         (a.heads * a.head_dim) % 8 == 0 && aligned(a.q) && aligned(a.k) && aligned(a.v) &&
         (!backward || aligned(a.dout));
}

template <int D>
void forward(const DeviceContext& ctx, AttentionArgs a) {
  a.vector_rows = rows_on_16_bytes(a, false);
  launch<ForwardShared<D>>(forward_kernel<D>, dim3(a.batch * a.heads, tiles(a.q_tokens)), ctx,
                          a);
}

template <int D>
void backward(const DeviceContext& ctx, AttentionArgs a, float* partials) {
  a.vector_rows = rows_on_16_bytes(a, true);
  if (a.dq.present() || a.dbias != nullptr) {
    const int groups = batch_groups(a);
    const bool partial_sums = a.dbias != nullptr && groups > 1;
    if (partial_sums) {
      MOLT_CUDA_CHECK(cudaMemsetAsync(partials, 0, sizeof(float) * groups * dbias_cells(a),
                                      ctx.stream));
    }
    launch<QueryShared<D>>(backward_query_kernel<D>, dim3(groups * a.heads, tiles(a.q_tokens)),
                           ctx, a, groups, partials);
    if (partial_sums) {
      add_partials_kernel<<<grid_stride_blocks(dbias_cells(a), 256), 256, 0, ctx.stream>>>(
          a.dbias, partials, groups, dbias_cells(a));
      MOLT_CUDA_CHECK_LAUNCH();
    }
  }
  if (a.dk.present() || a.dv.present()) {
    launch<KeyShared<D>>(backward_key_kernel<D>, dim3(a.batch * a.heads, tiles(a.kv_tokens)), ctx,
                         a);
  }
}

}  // namespace

bool tensor_core_head_dim(int head_dim) {
  return head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 128;
}

void tensor_core_attention_forward(const DeviceContext& ctx, const AttentionArgs& a) {
  switch (a.head_dim) {
    case 16: return forward<16>(ctx, a);
    case 32: return forward<32>(ctx, a);
    case 64: return forward<64>(ctx, a);
    case 128: return forward<128>(ctx, a);
    default: require(false, "tensor-core attention: head_dim " + std::to_string(a.head_dim));
  }
}

size_t tensor_core_backward_scratch_floats(const AttentionArgs& a) {
  const int groups = batch_groups(a);
  return a.dbias != nullptr && groups > 1 ? groups * dbias_cells(a) : 0;
}

void tensor_core_attention_backward(const DeviceContext& ctx, const AttentionArgs& a,
                                    float* scratch) {
  switch (a.head_dim) {
    case 16: return backward<16>(ctx, a, scratch);
    case 32: return backward<32>(ctx, a, scratch);
    case 64: return backward<64>(ctx, a, scratch);
    case 128: return backward<128>(ctx, a, scratch);
    default: require(false, "tensor-core attention: head_dim " + std::to_string(a.head_dim));
  }
}

}  // namespace molt::kernels::cuda
