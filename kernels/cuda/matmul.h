// Linear layers on cuBLAS and cuBLASLt (see matmul.cu).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <tuple>

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

// Which GEMM runs a forward with a bias. With the environment variable
// MOLT_CUDA_GEMM=cublas every forward takes the plain path (a broadcast of the bias, then
// cublasGemmEx with beta = 1); "auto" or unset lets an aligned one take cuBLASLt's bias
// epilogue (BiasGemmPlans); any other value is a UserError, raised when a backend is made.
bool bias_epilogue_allowed();

// out = in·Wᵀ + b through cublasLtMatmul with CUBLASLT_EPILOGUE_BIAS: one pass over out
// instead of a broadcast write and a beta = 1 read. One plan (descriptors and the
// heuristic's algorithm) per shape and dtype, made on first use and kept; the bias pointer
// is set per call. Owns the cuBLASLt handle and its 32 MiB workspace.
class BiasGemmPlans {
 public:
  explicit BiasGemmPlans(cudaStream_t stream);
  ~BiasGemmPlans();
  BiasGemmPlans(const BiasGemmPlans&) = delete;
  BiasGemmPlans& operator=(const BiasGemmPlans&) = delete;

  // Runs the product if cuBLASLt has an algorithm for it; false (nothing done) if not.
  // Every pointer must be 16-byte aligned and K, N multiples of 8 (the caller checks).
  bool run(void* out, const void* in, const void* weight, const void* bias, int M, int K, int N,
           DType dtype);

 private:
  struct Plan {
    bool usable = false;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t weight = nullptr, in = nullptr, out = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  Plan make_plan(int M, int K, int N, DType dtype);

  cudaStream_t stream_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<std::tuple<int, int, int, DType>, Plan> plans_;
};

void matmul_forward(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight, Tensor bias,
                    int M, int K, int N);
void matmul_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                     Tensor dout, Tensor in, Tensor weight, int M, int K, int N);

}  // namespace molt::kernels::cuda
