// Table lookups and their scatter-add gradients.
//
//   embedding:      out[r, :] = table[ids[r], :] + positions[r mod T, :]
//                   dtable[ids[r], :] += dout[r, :];  dpositions[r mod T, :] += dout[r, :]
//   position bias:  out[h, i, j] = table[buckets[i·Tk + j], h]
//                   dtable[buckets[i·Tk + j], h] += dout[h, i, j]
// Forward: one thread per output element (a gather; consecutive threads read consecutive
// channels of one table row). Backward: one thread per dout element with atomicAdd into
// the f32 gradient table — repeated tokens and shared buckets collide, and atomics are the
// simple correct answer. Float atomics make the summation order, and so the last bits,
// vary from run to run; the CPU backend is deterministic. A sort-by-id scatter would be
// deterministic and faster for skewed token counts (a later optimisation).
// Ids and buckets live on the device, so they are checked there: an element whose index
// is outside its table is skipped (forward writes 0) and the context's error flag is set;
// the backend throws at the next synchronising call (device_context.h).
#include "kernels/cuda/embedding.h"

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"

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

// Either gradient may be null.
__global__ void embedding_backward_kernel(float* dtable, float* dpositions, FloatArray dout,
                                          const int32_t* ids, size_t rows, int T, int C,
                                          size_t table_rows, int* index_error) {
  MOLT_GRID_STRIDE(i, rows * C) {
    const size_t r = i / C;
    const int c = static_cast<int>(i % C);
    const float dy = dout.load(i);
    if (dpositions != nullptr) atomicAdd(dpositions + (r % T) * C + c, dy);
    if (dtable == nullptr) continue;
    const int32_t id = ids[r];
    if (id < 0 || static_cast<size_t>(id) >= table_rows) {
      *index_error = kEmbeddingBackwardIndex;
      continue;
    }
    atomicAdd(dtable + static_cast<size_t>(id) * C + c, dy);
  }
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

__global__ void position_bias_backward_kernel(float* dtable, const float* dout,
                                              const int32_t* buckets, int H, size_t cells,
                                              size_t table_rows, int* index_error) {
  MOLT_GRID_STRIDE(i, cells * H) {
    const int h = static_cast<int>(i / cells);
    const int32_t bucket = buckets[i % cells];
    if (bucket < 0 || static_cast<size_t>(bucket) >= table_rows) {
      *index_error = kPositionBiasBackwardIndex;
      continue;
    }
    atomicAdd(dtable + static_cast<size_t>(bucket) * H + h, dout[i]);
  }
}

unsigned blocks(size_t n) { return grid_stride_blocks(n, kThreads); }

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
  embedding_backward_kernel<<<blocks(rows * C), kThreads, 0, ctx.stream>>>(
      dwte, dwpe, dy, id, rows, T, C, dtable.count / C, ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
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
  const size_t cells = product(Tq, Tk);
  float* dw = f32_covering(dtable, H, "position_bias_backward: dtable");
  const float* dy = f32_covering(dout, cells * H, "position_bias_backward: dout");
  const int32_t* bucket = i32_covering(buckets, cells, "position_bias_backward: buckets");
  if (cells == 0) return;
  position_bias_backward_kernel<<<blocks(cells * H), kThreads, 0, ctx.stream>>>(
      dw, dy, bucket, H, cells, dtable.count / H, ctx.index_error);
  MOLT_CUDA_CHECK_LAUNCH();
}

}  // namespace molt::kernels::cuda
