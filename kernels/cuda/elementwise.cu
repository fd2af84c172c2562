// Elementwise CUDA ops: one grid-stride loop each, f32 arithmetic, any mix of f32/bf16.
//
// These are memory-bound, so the only thing that matters is touching each byte once;
// they use scalar loads through FloatArray (float_array.cuh) — simple, and fine until a
// profile says otherwise (vectorised 16-byte loads are the obvious next step).
// fill, scale, add and accumulate take f32 or bf16 buffers (the models call them on bf16
// activations and on f32 gradients alike). copy() converts f32 ↔ bf16 with
// round-to-nearest-even, bit-identical to cpu/bf16.h, and copies same-dtype buffers
// (i32 included) with cudaMemcpyAsync; like the CPU it never converts to or from i32.
// sum_of_squares is deterministic: each thread sums its grid-stride share in double, each
// block reduces in a fixed tree, and the host adds the per-block partials in order. Double
// because a gradient norm sums ~10⁸ squares (see cpu/elementwise.cpp).
#include "kernels/cuda/elementwise.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kSquaresBlocks = 1024;

__global__ void fill_kernel(FloatArray x, size_t n, float value) {
  MOLT_GRID_STRIDE(i, n) x.store(i, value);
}

__global__ void convert_kernel(FloatArray dst, FloatArray src, size_t n) {
  MOLT_GRID_STRIDE(i, n) dst.store(i, src.load(i));
}

__global__ void scale_kernel(FloatArray x, size_t n, float factor) {
  MOLT_GRID_STRIDE(i, n) x.store(i, x.load(i) * factor);
}

__global__ void add_kernel(FloatArray out, FloatArray a, FloatArray b, size_t n) {
  MOLT_GRID_STRIDE(i, n) out.store(i, a.load(i) + b.load(i));
}

__global__ void accumulate_kernel(FloatArray dst, FloatArray src, size_t n) {
  MOLT_GRID_STRIDE(i, n) dst.store(i, dst.load(i) + src.load(i));
}

__global__ void sum_of_squares_kernel(const float* x, size_t n, double* block_sums) {
  __shared__ double partial[kThreads];
  double sum = 0.0;
  MOLT_GRID_STRIDE(i, n) sum += static_cast<double>(x[i]) * x[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = partial[0];
}

unsigned blocks(size_t n) { return grid_stride_blocks(n, kThreads); }

}  // namespace

void fill(const DeviceContext& ctx, Tensor x, float value) {
  const FloatArray out = floats_covering(x, x.count, "fill: x");
  if (x.count == 0) return;
  fill_kernel<<<blocks(x.count), kThreads, 0, ctx.stream>>>(out, x.count, value);
  MOLT_CUDA_CHECK_LAUNCH();
}

void copy(const DeviceContext& ctx, Tensor dst, Tensor src) {
  require_same_count(dst, src, "copy");
  if (dst.count == 0) return;
  if (dst.dtype == src.dtype) {
    // Like the CPU's memmove, but CUDA gives no guarantee for overlapping ranges; the
    // models copy between distinct buffers only.
    MOLT_CUDA_CHECK(
        cudaMemcpyAsync(dst.data, src.data, dst.bytes(), cudaMemcpyDeviceToDevice, ctx.stream));
    return;
  }
  const bool floats = (dst.dtype == DType::kF32 || dst.dtype == DType::kBF16) &&
                      (src.dtype == DType::kF32 || src.dtype == DType::kBF16);
  require(floats, std::string("copy: no conversion from ") + dtype_name(src.dtype) + " to " +
                      dtype_name(dst.dtype));
  convert_kernel<<<blocks(dst.count), kThreads, 0, ctx.stream>>>(
      floats_covering(dst, dst.count, "copy: dst"), floats_covering(src, src.count, "copy: src"),
      dst.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

void scale(const DeviceContext& ctx, Tensor x, float factor) {
  const FloatArray data = floats_covering(x, x.count, "scale: x");
  if (x.count == 0) return;
  scale_kernel<<<blocks(x.count), kThreads, 0, ctx.stream>>>(data, x.count, factor);
  MOLT_CUDA_CHECK_LAUNCH();
}

void add(const DeviceContext& ctx, Tensor out, Tensor a, Tensor b) {
  require_same_count(out, a, "add: out, a");
  require_same_count(out, b, "add: out, b");
  const FloatArray o = floats_covering(out, out.count, "add: out");
  const FloatArray x = floats_covering(a, a.count, "add: a");
  const FloatArray y = floats_covering(b, b.count, "add: b");
  if (out.count == 0) return;
  add_kernel<<<blocks(out.count), kThreads, 0, ctx.stream>>>(o, x, y, out.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

void accumulate(const DeviceContext& ctx, Tensor dst, Tensor src) {
  require_same_count(dst, src, "accumulate");
  const FloatArray d = floats_covering(dst, dst.count, "accumulate: dst");
  const FloatArray s = floats_covering(src, src.count, "accumulate: src");
  if (dst.count == 0) return;
  accumulate_kernel<<<blocks(dst.count), kThreads, 0, ctx.stream>>>(d, s, dst.count);
  MOLT_CUDA_CHECK_LAUNCH();
}

double sum_of_squares(const DeviceContext& ctx, Tensor x) {
  const float* data = f32_covering(x, x.count, "sum_of_squares: x");
  if (x.count == 0) return 0.0;
  const unsigned grid = std::min<unsigned>(kSquaresBlocks, blocks(x.count));
  double* block_sums = static_cast<double*>(ctx.scratch->reserve(grid * sizeof(double)));
  sum_of_squares_kernel<<<grid, kThreads, 0, ctx.stream>>>(data, x.count, block_sums);
  MOLT_CUDA_CHECK_LAUNCH();
  std::vector<double> host(grid);
  MOLT_CUDA_CHECK(cudaMemcpyAsync(host.data(), block_sums, grid * sizeof(double),
                                  cudaMemcpyDeviceToHost, ctx.stream));
  MOLT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  double sum = 0.0;
  for (double s : host) sum += s;
  return sum;
}

}  // namespace molt::kernels::cuda
