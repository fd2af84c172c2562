// Linear layers: cublasGemmEx with f32 accumulation (CUBLAS_COMPUTE_32F).
//
//   forward   out[M,N]  = in[M,K]·W[N,K]ᵀ + b        (b broadcast into out, then beta = 1)
//   backward  din[M,K] += dout[M,N]·W[N,K]           (beta = 1: backward accumulates)
//             dW[N,K]  += dout[M,N]ᵀ·in[M,K]         (dW f32, inputs f32 or bf16)
//             db[N]    += dout[M,N]ᵀ·1[M]            (a GEMM against a ones vector)
// cuBLAS is column-major. A row-major X[r,c] is the column-major Xᶜ[c,r] with ld = c, so
// each product above is computed transposed:
//   outᶜ[N,M] = Wᶜ[K,N]ᵀ·inᶜ[K,M]       gemm(T, N, m=N, n=M, k=K, A=W ld K, B=in ld K)
//   dinᶜ[K,M] = Wᶜ[K,N]·doutᶜ[N,M]      gemm(N, N, m=K, n=M, k=N, A=W ld K, B=dout ld N)
//   dWᶜ[K,N]  = inᶜ[K,M]·doutᶜ[N,M]ᵀ    gemm(N, T, m=K, n=N, k=M, A=in ld K, B=dout ld N)
//   db[N,1]   = doutᶜ[N,M]·1[M,1]       gemm(N, N, m=N, n=1, k=M, A=dout ld N, B=ones)
// Dtypes: the two GEMM inputs share one dtype; the output may be f32 with bf16 inputs
// (parameter gradients) but not bf16 with f32 inputs — the combinations cublasGemmEx
// supports under CUBLAS_COMPUTE_32F. With f32 inputs this is plain SGEMM: cuBLAS's default
// math mode does not use TF32, so f32 mode is exact f32 (and slow on tensor-core GPUs; a
// profile may opt into CUBLAS_COMPUTE_32F_FAST_TF32). The bias is a separate broadcast
// pass over out; a cuBLASLt bias epilogue would fuse it (a later optimisation).
#include "kernels/cuda/matmul.h"

#include <algorithm>
#include <string>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"

namespace molt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void broadcast_bias_kernel(FloatArray out, FloatArray bias, size_t rows, int N) {
  MOLT_GRID_STRIDE(i, rows * N) out.store(i, bias.load(i % N));
}

cudaDataType_t blas_type(DType dtype) { return dtype == DType::kBF16 ? CUDA_R_16BF : CUDA_R_32F; }

struct Operand {
  const void* data;
  DType dtype;
  int ld;
};

// C = A·B (with the given transposes) + beta·C, all column-major, f32 accumulation.
void gemm(const DeviceContext& ctx, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n,
          int k, Operand a, Operand b, float beta, void* c, DType c_dtype, int ldc,
          const char* what) {
  require(a.dtype == b.dtype, std::string(what) + ": GEMM inputs differ in dtype (" +
                                  dtype_name(a.dtype) + ", " + dtype_name(b.dtype) + ")");
  require(!(a.dtype == DType::kF32 && c_dtype == DType::kBF16),
          std::string(what) + ": a bf16 result of f32 inputs is not supported");
  if (m == 0 || n == 0) return;
  // cuBLAS rejects a leading dimension of 0 even when k = 0 makes the operand empty.
  a.ld = std::max(a.ld, 1);
  b.ld = std::max(b.ld, 1);
  const float alpha = 1.0f;
  MOLT_CUBLAS_CHECK(cublasGemmEx(ctx.blas, op_a, op_b, m, n, k, &alpha, a.data, blas_type(a.dtype),
                                 a.ld, b.data, blas_type(b.dtype), b.ld, &beta, c,
                                 blas_type(c_dtype), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void matmul_forward(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight, Tensor bias,
                    int M, int K, int N) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_forward: negative shape");
  const FloatArray y = floats_covering(out, product(M, N), "matmul_forward: out");
  floats_covering(in, product(M, K), "matmul_forward: in");
  floats_covering(weight, product(N, K), "matmul_forward: weight");
  const FloatArray b = optional_floats(bias, N, "matmul_forward: bias");
  if (M == 0 || N == 0) return;
  if (b.present()) {
    broadcast_bias_kernel<<<grid_stride_blocks(product(M, N), kThreads), kThreads, 0, ctx.stream>>>(
        y, b, static_cast<size_t>(M), N);
    MOLT_CUDA_CHECK_LAUNCH();
  }
  gemm(ctx, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, {weight.data, weight.dtype, K},
       {in.data, in.dtype, K}, b.present() ? 1.0f : 0.0f, out.data, out.dtype, N, "matmul_forward");
}

void matmul_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                     Tensor dout, Tensor in, Tensor weight, int M, int K, int N) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_backward: negative shape");
  floats_covering(dout, product(M, N), "matmul_backward: dout");
  if (!din.empty()) {
    floats_covering(din, product(M, K), "matmul_backward: din");
    floats_covering(weight, product(N, K), "matmul_backward: weight");
    gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, {weight.data, weight.dtype, K},
         {dout.data, dout.dtype, N}, 1.0f, din.data, din.dtype, K, "matmul_backward (din)");
  }
  if (!dweight.empty()) {
    f32_covering(dweight, product(N, K), "matmul_backward: dweight");
    floats_covering(in, product(M, K), "matmul_backward: in");
    gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, {in.data, in.dtype, K}, {dout.data, dout.dtype, N},
         1.0f, dweight.data, DType::kF32, K, "matmul_backward (dweight)");
  }
  if (!dbias.empty()) {
    f32_covering(dbias, N, "matmul_backward: dbias");
    if (M == 0) return;
    const void* ones = ctx.ones->get(dout.dtype, static_cast<size_t>(M));
    gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, N, 1, M, {dout.data, dout.dtype, N}, {ones, dout.dtype, M},
         1.0f, dbias.data, DType::kF32, N, "matmul_backward (dbias)");
  }
}

}  // namespace molt::kernels::cuda
