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

// Which GEMM runs a forward with a bias or a GELU. With the environment variable
// MOLT_CUDA_GEMM=cublas every product takes the plain path (a broadcast of the bias, then
// cublasGemmEx with beta = 1; GELU and its gradient as kernels of their own); "auto" or
// unset lets an aligned one take a cuBLASLt epilogue (EpilogueGemmPlans); any other value
// is a UserError, raised when a backend is made.
bool bias_epilogue_allowed();

// What cuBLASLt adds after a product (the CUBLASLT_EPILOGUE_* of the same name).
enum class Epilogue {
  kBias,         // d = a·b + bias
  kGeluAux,      // aux = a·b;         d = gelu(aux)
  kGeluAuxBias,  // aux = a·b + bias;  d = gelu(aux)
  kDgelu,        // d = gelu'(aux) ⊙ (a·b), aux read
};

// One product as cuBLASLt reads it, column-major: d[m,n] = op(a)·b, b stored k×n (ld k),
// a stored k×m (ld k) when transpose_a, else m×k (ld m); d and aux m×n (ld m).
struct LtProduct {
  Epilogue epilogue;
  bool transpose_a;
  int m, n, k;
  DType dtype;  // of a, b, d, bias and aux alike
};

// Products with a cuBLASLt epilogue: one pass over d instead of a separate kernel's read
// and write. One plan (descriptors and the heuristic's algorithm) per product and per
// alignment of the bias and aux pointers (cuBLASLt's heuristic chooses by the pointers'
// alignment, so the pointers are set before it runs), made on first use and kept. Owns the
// cuBLASLt handle and its 32 MiB workspace.
class EpilogueGemmPlans {
 public:
  EpilogueGemmPlans(cudaStream_t stream, CountBytes count);
  ~EpilogueGemmPlans();
  EpilogueGemmPlans(const EpilogueGemmPlans&) = delete;
  EpilogueGemmPlans& operator=(const EpilogueGemmPlans&) = delete;

  // Runs d = epilogue(op(a)·b) if cuBLASLt has an algorithm for it; false (nothing done) if
  // not. bias is read by kBias and kGeluAuxBias, aux written by kGelu* and read by kDgelu.
  // Every pointer must be 16-byte aligned and m, k multiples of 8 (the caller checks).
  bool run(const LtProduct& product, void* d, const void* a, const void* b, const void* bias,
           void* aux);

 private:
  struct Plan {
    bool usable = false;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  using Key = std::tuple<Epilogue, bool, int, int, int, DType, size_t, size_t>;
  Plan make_plan(const LtProduct& product, const void* bias, const void* aux);

  cudaStream_t stream_;
  CountBytes report_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
};

void matmul_forward(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight, Tensor bias,
                    int M, int K, int N);
void matmul_backward(const DeviceContext& ctx, Tensor din, Tensor dweight, Tensor dbias,
                     Tensor dout, Tensor in, Tensor weight, int M, int K, int N, Din din_mode);

// Backend::matmul_gelu_forward and matmul_gelu_backward with the GELU (or its gradient) in
// the GEMM's epilogue. They run only in bf16, on aligned operands (as the bias epilogue
// needs) and where cuBLASLt has an algorithm, and return whether they did; on false nothing
// was done and the caller takes the unfused path. f32 stays unfused, so f32 results keep
// the GELU kernel's own arithmetic.
bool matmul_gelu_forward_fused(const DeviceContext& ctx, Tensor out, Tensor pre, Tensor in,
                               Tensor weight, Tensor bias, int M, int K, int N);
bool matmul_gelu_backward_fused(const DeviceContext& ctx, Tensor dpre, Tensor dweight, Tensor dbias,
                                Tensor dout, Tensor in, Tensor weight, Tensor pre, int M, int K,
                                int N);

}  // namespace molt::kernels::cuda
