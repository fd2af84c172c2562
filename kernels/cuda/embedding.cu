// Table lookups and their scatter-add gradients.
//
//   embedding:      out[r, :] = table[ids[r], :] + positions[r mod T, :]
//                   dtable[ids[r], :] += dout[r, :];  dpositions[r mod T, :] += dout[r, :]
//   position bias:  out[h, i, j] = table[buckets[i·Tk + j], h]
//                   dtable[buckets[i·Tk + j], h] += dout[h, i, j]
// Forward: one thread per output element (a gather; consecutive threads read consecutive
// channels of one table row).
// Backward is deterministic: no float atomics, every gradient element is summed by one
// thread (or one block) in an order fixed by the inputs alone, so two runs give the same
// bits and a run resumed from a checkpoint matches an uninterrupted one.
//   * dpositions[t, c] += Σ_b dout[b·T + t, c]: one thread per (t, c), b ascending.
//   * dtable: repeated ids collide, so rows are first sorted by id (cub::DeviceRadixSort,
//     stable, so equal ids keep ascending row order — the sorted order depends on the ids
//     only). One block per sorted position and 256 channels; the blocks at the start of a
//     run do the work: the thread for channel c adds the run's dout rows, in sorted order,
//     onto dtable[id, c]. That is the CPU backend's order too (rows ascending, onto the
//     existing value). A run of n rows is n serial additions per channel: fine for text,
//     whose commonest token is a few percent of a batch; a batch of one repeated id is
//     correct but slow.
//   * position bias: one block per (bucket, head) scans every cell in a fixed strided
//     order, keeps the cells of its bucket and reduces with a fixed tree (block_sum).
//     That reads the bucket map (Tq·Tk ints, small enough to stay in L2) once per
//     (bucket, head); buckets are few (T5: 32), so simple beats clever here.
// Ids and buckets live on the device, so they are checked there: an element whose index
// is outside its table is skipped (forward writes 0) and the context's error flag is set;
// the backend throws at the next synchronising call (device_context.h).
// The sort's buffers live in the context's scratch memory. Scratch only grows, and
// growing waits for the stream, so that happens once, on the first step; later calls of
// the same shape never synchronise.
#include "kernels/cuda/embedding.h"

#include <cstdint>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reductions.cuh"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_forward_kernel(FloatArray out, const int32_t* ids, FloatArray table,
                                         FloatArray positions, size_t rows, int T, int C,
                                         size_t table_rows, int* index_error) {
  MOLT_GRID_STRIDE(i, rows * C) {
    const size_t r = i / C;
    const int c = static_cast<int>(i % C);
    const int32_t id = ids[r];
    if (id < 0 || static_cast<size_t>(id) >= table_rows) {
      *index_error = kEmbeddingForwardIndex;
      out.store(i, 0.0f);
      continue;
    }
    float value = table.load(static_cast<size_t>(id) * C + c);
    if (positions.present()) value += positions.load((r % T) * C + c);
    out.store(i, value);
  }
}

// dpositions[t, c] += Σ_b dout[b·T + t, c], b ascending; i = t·C + c.
__global__ void position_gradient_kernel(float* dpositions, FloatArray dout, int B, size_t T_C) {
  MOLT_GRID_STRIDE(i, T_C) {
    float sum = dpositions[i];
    for (int b = 0; b < B; ++b) sum += dout.load(static_cast<size_t>(b) * T_C + i);
    dpositions[i] = sum;
  }
}

// Sort input: the id of each row as an unsigned key, or `skipped` (= table rows, above
// every valid id, so such rows sort last) when the id is outside the table.
__global__ void sort_keys_kernel(uint32_t* keys, int32_t* row_of_key, const int32_t* ids, int rows,
                                 uint32_t skipped, int* index_error) {
  MOLT_GRID_STRIDE(i, static_cast<size_t>(rows)) {
    const int32_t id = ids[i];
    const bool valid = id >= 0 && static_cast<uint32_t>(id) < skipped;
    if (!valid) *index_error = kEmbeddingBackwardIndex;
    keys[i] = valid ? static_cast<uint32_t>(id) : skipped;
    row_of_key[i] = static_cast<int32_t>(i);
  }
}

// One past the last position of the run that starts at s (sorted_ids ascending).
__device__ int run_end(const uint32_t* sorted_ids, int s, int rows) {
  const uint32_t id = sorted_ids[s];
  int lo = s + 1, hi = rows;  // sorted_ids[lo − 1] == id; every position ≥ hi holds more
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (sorted_ids[mid] == id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Grid (rows, ⌈C/kThreads⌉): block (s, y) works only if sorted position s starts a run of
// valid ids; its thread for channel c adds the run's rows, in order, onto dtable[id, c].
__global__ void token_gradient_kernel(float* dtable, FloatArray dout, const uint32_t* sorted_ids,
                                      const int32_t* sorted_rows, int rows, int C,
                                      uint32_t skipped) {
  const int s = static_cast<int>(blockIdx.x);
  const uint32_t id = sorted_ids[s];
  if (id == skipped || (s > 0 && sorted_ids[s - 1] == id)) return;
  const int c = static_cast<int>(blockIdx.y) * kThreads + static_cast<int>(threadIdx.x);
  if (c >= C) return;
  const int end = run_end(sorted_ids, s, rows);
  float* slot = dtable + static_cast<size_t>(id) * C + c;
  float sum = *slot;
#pragma unroll 4
  for (int k = s; k < end; ++k) sum += dout.load(static_cast<size_t>(sorted_rows[k]) * C + c);
  *slot = sum;
}

__global__ void position_bias_forward_kernel(float* out, FloatArray table, const int32_t* buckets,
                                             int H, size_t cells, size_t table_rows,
                                             int* index_error) {
  MOLT_GRID_STRIDE(i, cells * H) {
    const int h = static_cast<int>(i / cells);
    const int32_t bucket = buckets[i % cells];
    if (bucket < 0 || static_cast<size_t>(bucket) >= table_rows) {
      *index_error = kPositionBiasForwardIndex;
      out[i] = 0.0f;
      continue;
    }
    out[i] = table.load(static_cast<size_t>(bucket) * H + h);
  }
}

// Grid (table rows, H): block (bucket, h) sums dout[h, cell] over the cells of its bucket.
// Thread x takes cells x, x + kThreads, ... in order; block_sum adds the threads' sums in
// a fixed tree. Block (0, 0) alone reports buckets outside the table (all blocks skip them).
__global__ void position_bias_backward_kernel(float* dtable, const float* dout,
                                              const int32_t* buckets, int H, size_t cells,
                                              size_t table_rows, int* index_error) {
  __shared__ float shared[kWarpSize];
  const int32_t bucket = static_cast<int32_t>(blockIdx.x);
  const int h = static_cast<int>(blockIdx.y);
  const bool reports = blockIdx.x == 0 && blockIdx.y == 0;
  const float* dy = dout + static_cast<size_t>(h) * cells;
  float sum = 0.0f;
  for (size_t cell = threadIdx.x; cell < cells; cell += kThreads) {
    const int32_t b = buckets[cell];
    if (b == bucket) {
      sum += dy[cell];
    } else if (reports && (b < 0 || static_cast<size_t>(b) >= table_rows)) {
      *index_error = kPositionBiasBackwardIndex;
    }
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) dtable[static_cast<size_t>(bucket) * H + h] += sum;
}

unsigned blocks(size_t n) { return grid_stride_blocks(n, kThreads); }

// Bytes rounded up to 256, so arrays carved one after another from one scratch block
// keep the alignment cudaMalloc gives (and CUB asks of its temporary storage).
size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

// The smallest bit count that holds every key in [0, skipped]: the radix sort only
// needs to look at those bits.
int key_bits(uint32_t skipped) {
  int bits = 1;
  while ((uint64_t{1} << bits) <= skipped) ++bits;
  return bits;
}

// dtable[ids[r], :] += dout[r, :] by sort-by-id then one block per run (file comment).
void token_gradient(const DeviceContext& ctx, float* dtable, FloatArray dout, const int32_t* ids,
                    size_t rows, int C, size_t table_rows) {
  require(rows <= INT32_MAX, "embedding_backward: more than 2³¹ − 1 rows");
  require(table_rows < INT32_MAX, "embedding_backward: table has 2³¹ − 1 rows or more");
  const int n = static_cast<int>(rows);
  const uint32_t skipped = static_cast<uint32_t>(table_rows);
  const int bits = key_bits(skipped);
  size_t sort_bytes = 0;  // CUB reports its temporary storage when given none
  MOLT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), n, 0, bits,
      ctx.stream));
  // One scratch block: [sort storage | keys | rows | sorted keys | sorted rows].
  const size_t array_bytes = aligned(rows * sizeof(uint32_t));
  char* scratch = static_cast<char*>(ctx.scratch->reserve(aligned(sort_bytes) + 4 * array_bytes));
  char* arrays = scratch + aligned(sort_bytes);
  auto* keys = reinterpret_cast<uint32_t*>(arrays);
  auto* key_rows = reinterpret_cast<int32_t*>(arrays + array_bytes);
  auto* sorted_ids = reinterpret_cast<uint32_t*>(arrays + 2 * array_bytes);
  auto* sorted_rows = reinterpret_cast<int32_t*>(arrays + 3 * array_bytes);

  sort_keys_kernel<<<blocks(rows), kThreads, 0, ctx.stream>>>(keys, key_rows, ids, n, skipped,
                                                              ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
  MOLT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch, sort_bytes, keys, sorted_ids, key_rows,
                                                  sorted_rows, n, 0, bits, ctx.stream));
  const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>((C + kThreads - 1) / kThreads));
  token_gradient_kernel<<<grid, kThreads, 0, ctx.stream>>>(dtable, dout, sorted_ids, sorted_rows, n,
                                                           C, skipped);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void embedding_forward(const DeviceContext& ctx, Tensor out, Tensor ids, Tensor table,
                       Tensor positions, int B, int T, int C) {
  require(B >= 0 && T > 0 && C > 0, "embedding_forward: needs B ≥ 0, T > 0, C > 0");
  const size_t rows = product(B, T);
  const FloatArray y = floats_covering(out, rows * C, "embedding_forward: out");
  const int32_t* id = i32_covering(ids, rows, "embedding_forward: ids");
  const FloatArray wte = floats_covering(table, C, "embedding_forward: table");
  const FloatArray wpe = optional_floats(positions, product(T, C), "embedding_forward: positions");
  if (rows == 0) return;
  embedding_forward_kernel<<<blocks(rows * C), kThreads, 0, ctx.stream>>>(
      y, id, wte, wpe, rows, T, C, table.count / C, ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
}

void embedding_backward(const DeviceContext& ctx, Tensor dtable, Tensor dpositions, Tensor dout,
                        Tensor ids, int B, int T, int C) {
  require(B >= 0 && T > 0 && C > 0, "embedding_backward: needs B ≥ 0, T > 0, C > 0");
  const size_t rows = product(B, T);
  const FloatArray dy = floats_covering(dout, rows * C, "embedding_backward: dout");
  const int32_t* id = i32_covering(ids, rows, "embedding_backward: ids");
  float* dwte = optional_f32(dtable, C, "embedding_backward: dtable");
  float* dwpe = optional_f32(dpositions, product(T, C), "embedding_backward: dpositions");
  if (rows == 0 || (dwte == nullptr && dwpe == nullptr)) return;
  if (dwpe != nullptr) {
    const size_t T_C = product(T, C);
    position_gradient_kernel<<<blocks(T_C), kThreads, 0, ctx.stream>>>(dwpe, dy, B, T_C);
    MOLT_CUDA_CHECK_LAUNCH();
  }
  if (dwte != nullptr) token_gradient(ctx, dwte, dy, id, rows, C, dtable.count / C);
}

void position_bias_forward(const DeviceContext& ctx, Tensor out, Tensor table, Tensor buckets,
                           int H, int Tq, int Tk) {
  require(H > 0 && Tq >= 0 && Tk >= 0, "position_bias_forward: needs H > 0, Tq, Tk ≥ 0");
  const size_t cells = product(Tq, Tk);
  float* y = f32_covering(out, cells * H, "position_bias_forward: out");
  const FloatArray w = floats_covering(table, H, "position_bias_forward: table");
  const int32_t* bucket = i32_covering(buckets, cells, "position_bias_forward: buckets");
  if (cells == 0) return;
  position_bias_forward_kernel<<<blocks(cells * H), kThreads, 0, ctx.stream>>>(
      y, w, bucket, H, cells, table.count / H, ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
}

void position_bias_backward(const DeviceContext& ctx, Tensor dtable, Tensor dout, Tensor buckets,
                            int H, int Tq, int Tk) {
  require(H > 0 && Tq >= 0 && Tk >= 0, "position_bias_backward: needs H > 0, Tq, Tk ≥ 0");
  require(H <= 65535, "position_bias_backward: more than 65535 heads");  // grid y
  const size_t cells = product(Tq, Tk);
  float* dw = f32_covering(dtable, H, "position_bias_backward: dtable");
  const float* dy = f32_covering(dout, cells * H, "position_bias_backward: dout");
  const int32_t* bucket = i32_covering(buckets, cells, "position_bias_backward: buckets");
  const size_t table_rows = dtable.count / H;
  require(table_rows < INT32_MAX, "position_bias_backward: table has 2³¹ − 1 rows or more");
  if (cells == 0) return;
  const dim3 grid(static_cast<unsigned>(table_rows), static_cast<unsigned>(H));
  position_bias_backward_kernel<<<grid, kThreads, 0, ctx.stream>>>(dw, dy, bucket, H, cells,
                                                                   table_rows, ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace molt::kernels::cuda
