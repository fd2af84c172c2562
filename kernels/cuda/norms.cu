// LayerNorm and RMSNorm over rows of length C: one kernel family serves both, since
// RMSNorm is LayerNorm with the mean fixed at 0 and no bias.
//
// With x̂ = (x − μ)·rstd (μ = 0 for RMSNorm) and g = dout ⊙ w:
//   forward   out = x̂·w + b,   rstd = 1/√(mean((x − μ)²) + eps)      (biased variance)
//   backward  din += rstd·( g − mean(g) − x̂·mean(g ⊙ x̂) )           (no mean(g) for RMS)
//             dw  += Σ_rows dout ⊙ x̂;   db += Σ_rows dout
// Row kernels: one block per row, the row read from global memory once per pass (it is
// in L1/L2 the second time); the variance is two-pass (mean first) as on the CPU, so it
// never cancels catastrophically. A warp-per-row kernel with the row in registers would
// be faster for C ≤ 1024 — left for a profile.
// Parameter gradients sum over rows. Rather than N·C atomics into dw (slow under
// contention, and non-deterministic), rows are cut into chunks of kRowsPerChunk: pass 1
// writes one partial sum per (chunk, column) to scratch, pass 2 adds the partials of each
// column in chunk order into dw and db. Deterministic, and both passes are coalesced.
#include "kernels/cuda/norms.h"

#include <string>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reductions.cuh"

namespace molt::kernels::cuda {
namespace {

constexpr int kRowThreads = 256;
constexpr int kRowsPerChunk = 64;
constexpr int kColumnTile = 32;  // columns per partials block (blockDim.x)
constexpr int kRowLanes = 8;     // rows handled side by side in a partials block (blockDim.y)

// mean_out is null for RMSNorm (μ = 0, nothing saved); bias may be absent.
__global__ void norm_forward_kernel(FloatArray out, float* mean_out, float* rstd_out, FloatArray in,
                                    FloatArray weight, FloatArray bias, int C, float eps) {
  __shared__ float shared[32];
  const size_t row = static_cast<size_t>(blockIdx.x) * C;
  float mean = 0.0f;
  if (mean_out != nullptr) {
    float sum = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) sum += in.load(row + c);
    mean = block_sum(sum, shared) / static_cast<float>(C);
  }
  float squares = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float centered = in.load(row + c) - mean;
    squares += centered * centered;
  }
  const float rstd = 1.0f / sqrtf(block_sum(squares, shared) / static_cast<float>(C) + eps);
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float y = (in.load(row + c) - mean) * rstd * weight.load(c);
    out.store(row + c, bias.present() ? y + bias.load(c) : y);
  }
  if (threadIdx.x == 0) {
    if (mean_out != nullptr) mean_out[blockIdx.x] = mean;
    rstd_out[blockIdx.x] = rstd;
  }
}

// din += rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)); mean is null for RMSNorm.
__global__ void norm_backward_input_kernel(FloatArray din, FloatArray dout, FloatArray in,
                                           FloatArray weight, const float* mean, const float* rstd,
                                           int C) {
  __shared__ float shared[32];
  const size_t row = static_cast<size_t>(blockIdx.x) * C;
  const float mu = mean != nullptr ? mean[blockIdx.x] : 0.0f;
  const float r = rstd[blockIdx.x];
  float sum_g = 0.0f, sum_gx = 0.0f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float g = dout.load(row + c) * weight.load(c);
    sum_g += g;
    sum_gx += g * (in.load(row + c) - mu) * r;
  }
  const float mean_g = mean != nullptr ? block_sum(sum_g, shared) / static_cast<float>(C) : 0.0f;
  const float mean_gx = block_sum(sum_gx, shared) / static_cast<float>(C);
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float g = dout.load(row + c) * weight.load(c);
    const float xhat = (in.load(row + c) - mu) * r;
    din.store(row + c, din.load(row + c) + r * (g - mean_g - xhat * mean_gx));
  }
}

// Pass 1: partial_w[chunk, c] = Σ_{rows n of chunk} dout[n,c]·x̂[n,c], partial_b the same
// without x̂ (partial_b null when no bias gradient is wanted).
__global__ void norm_param_partials_kernel(float* partial_w, float* partial_b, FloatArray dout,
                                           FloatArray in, const float* mean, const float* rstd,
                                           int N, int C) {
  __shared__ float sums_w[kRowLanes][kColumnTile + 1];
  __shared__ float sums_b[kRowLanes][kColumnTile + 1];
  const int chunk = blockIdx.x;
  const int c = blockIdx.y * kColumnTile + threadIdx.x;
  const int row_end = min(N, (chunk + 1) * kRowsPerChunk);
  float sum_w = 0.0f, sum_b = 0.0f;
  if (c < C) {
    for (int n = chunk * kRowsPerChunk + threadIdx.y; n < row_end; n += kRowLanes) {
      const size_t at = static_cast<size_t>(n) * C + c;
      const float dy = dout.load(at);
      const float xhat = (in.load(at) - (mean != nullptr ? mean[n] : 0.0f)) * rstd[n];
      sum_w += dy * xhat;
      sum_b += dy;
    }
  }
  sums_w[threadIdx.y][threadIdx.x] = sum_w;
  sums_b[threadIdx.y][threadIdx.x] = sum_b;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  float total_w = 0.0f, total_b = 0.0f;
  for (int lane = 0; lane < kRowLanes; ++lane) {
    total_w += sums_w[lane][threadIdx.x];
    total_b += sums_b[lane][threadIdx.x];
  }
  partial_w[static_cast<size_t>(chunk) * C + c] = total_w;
  if (partial_b != nullptr) partial_b[static_cast<size_t>(chunk) * C + c] = total_b;
}

// Pass 2: dst[c] += Σ_chunks partial[chunk, c], in chunk order.
__global__ void add_partials_kernel(float* dst, const float* partial, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sum = 0.0f;
  for (int chunk = 0; chunk < chunks; ++chunk) sum += partial[static_cast<size_t>(chunk) * C + c];
  dst[c] += sum;
}

void check_rows(int N, int C, const char* what) {
  require(N >= 0 && C > 0, std::string(what) + ": needs N ≥ 0 and C > 0");
}

void launch_forward(const DeviceContext& ctx, FloatArray out, float* mean, float* rstd,
                    FloatArray in, FloatArray weight, FloatArray bias, int N, int C, float eps) {
  if (N == 0) return;
  norm_forward_kernel<<<N, kRowThreads, 0, ctx.stream>>>(out, mean, rstd, in, weight, bias, C, eps);
  MOLT_CUDA_CHECK_LAUNCH();
}

void launch_backward(const DeviceContext& ctx, FloatArray din, float* dweight, float* dbias,
                     FloatArray dout, FloatArray in, FloatArray weight, const float* mean,
                     const float* rstd, int N, int C) {
  if (N == 0) return;
  if (din.present()) {
    norm_backward_input_kernel<<<N, kRowThreads, 0, ctx.stream>>>(din, dout, in, weight, mean, rstd,
                                                                  C);
    MOLT_CUDA_CHECK_LAUNCH();
  }
  if (dweight == nullptr && dbias == nullptr) return;
  const int chunks = (N + kRowsPerChunk - 1) / kRowsPerChunk;
  float* partial_w = ctx.scratch->floats(2 * product(chunks, C));
  float* partial_b = dbias != nullptr ? partial_w + product(chunks, C) : nullptr;
  const dim3 grid(chunks, (C + kColumnTile - 1) / kColumnTile);
  norm_param_partials_kernel<<<grid, dim3(kColumnTile, kRowLanes), 0, ctx.stream>>>(
      partial_w, partial_b, dout, in, mean, rstd, N, C);
  MOLT_CUDA_CHECK_LAUNCH();
  const int column_blocks = (C + kRowThreads - 1) / kRowThreads;
  if (dweight != nullptr) {
    add_partials_kernel<<<column_blocks, kRowThreads, 0, ctx.stream>>>(dweight, partial_w, chunks,
                                                                       C);
    MOLT_CUDA_CHECK_LAUNCH();
  }
  if (dbias != nullptr) {
    add_partials_kernel<<<column_blocks, kRowThreads, 0, ctx.stream>>>(dbias, partial_b, chunks, C);
    MOLT_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void layernorm_forward(const DeviceContext& ctx, Tensor out, Tensor mean, Tensor rstd, Tensor in,
                       Tensor weight, Tensor bias, int N, int C, float eps) {
  check_rows(N, C, "layernorm_forward");
  launch_forward(ctx, floats_covering(out, product(N, C), "layernorm_forward: out"),
                 f32_covering(mean, N, "layernorm_forward: mean"),
                 f32_covering(rstd, N, "layernorm_forward: rstd"),
                 floats_covering(in, product(N, C), "layernorm_forward: in"),
                 floats_covering(weight, C, "layernorm_forward: weight"),
                 optional_floats(bias, C, "layernorm_forward: bias"), N, C, eps);
}

void layernorm_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                        Tensor dout, Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                        int C) {
  check_rows(N, C, "layernorm_backward");
  launch_backward(ctx, optional_floats(din, product(N, C), "layernorm_backward: din"),
                  optional_f32(dweight, C, "layernorm_backward: dweight"),
                  optional_f32(dbias, C, "layernorm_backward: dbias"),
                  floats_covering(dout, product(N, C), "layernorm_backward: dout"),
                  floats_covering(in, product(N, C), "layernorm_backward: in"),
                  floats_covering(weight, C, "layernorm_backward: weight"),
                  f32_covering(mean, N, "layernorm_backward: mean"),
                  f32_covering(rstd, N, "layernorm_backward: rstd"), N, C);
}

void rmsnorm_forward(const DeviceContext& ctx, Tensor out, Tensor rstd, Tensor in, Tensor weight,
                     int N, int C, float eps) {
  check_rows(N, C, "rmsnorm_forward");
  launch_forward(ctx, floats_covering(out, product(N, C), "rmsnorm_forward: out"), nullptr,
                 f32_covering(rstd, N, "rmsnorm_forward: rstd"),
                 floats_covering(in, product(N, C), "rmsnorm_forward: in"),
                 floats_covering(weight, C, "rmsnorm_forward: weight"), FloatArray{}, N, C, eps);
}

void rmsnorm_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dout, Tensor in,
                      Tensor weight, Tensor rstd, int N, int C) {
  check_rows(N, C, "rmsnorm_backward");
  launch_backward(ctx, optional_floats(din, product(N, C), "rmsnorm_backward: din"),
                  optional_f32(dweight, C, "rmsnorm_backward: dweight"), nullptr,
                  floats_covering(dout, product(N, C), "rmsnorm_backward: dout"),
                  floats_covering(in, product(N, C), "rmsnorm_backward: in"),
                  floats_covering(weight, C, "rmsnorm_backward: weight"), nullptr,
                  f32_covering(rstd, N, "rmsnorm_backward: rstd"), N, C);
}

}  // namespace molt::kernels::cuda
