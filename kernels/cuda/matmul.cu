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
// profile may opt into CUBLAS_COMPUTE_32F_FAST_TF32).
// A forward with a bias runs as cuBLASLt's bias epilogue (BiasGemmPlans, matmul.h) when
// out, in, W and b share a dtype, start on 16 bytes and K, N are multiples of 8 (what the
// plans' 16-byte alignment preference promises cuBLASLt), and cuBLASLt has an algorithm for
// the shape. Otherwise the bias is broadcast into out and the GEMM adds onto it (beta = 1).
// The epilogue adds b to the f32 accumulator before the one rounding to out's dtype; the
// broadcast path rounds the product onto a bf16 b, so bf16 results may differ in the last
// bit. MOLT_CUDA_GEMM=cublas forces the broadcast path (to compare the two on a GPU).
#include "kernels/cuda/matmul.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/error.h"

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

bool on_16_bytes(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Whether the forward may take the bias epilogue (see the file comment).
bool bias_epilogue_fits(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight,
                        Tensor bias, int K, int N) {
  return ctx.bias_gemm != nullptr && bias_epilogue_allowed() && in.dtype == out.dtype &&
         weight.dtype == out.dtype && bias.dtype == out.dtype && K > 0 && K % 8 == 0 &&
         N % 8 == 0 && on_16_bytes(out.data) && on_16_bytes(in.data) &&
         on_16_bytes(weight.data) && on_16_bytes(bias.data);
}

template <typename T>
void set_attribute(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attribute,
                   const T& value) {
  MOLT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, attribute, &value, sizeof(value)));
}

template <typename T>
void set_preference(cublasLtMatmulPreference_t preference,
                    cublasLtMatmulPreferenceAttributes_t attribute, const T& value) {
  MOLT_CUBLAS_CHECK(
      cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value, sizeof(value)));
}

}  // namespace

bool bias_epilogue_allowed() {
  const char* set = std::getenv("MOLT_CUDA_GEMM");
  const std::string mode = set != nullptr ? set : "";
  if (mode == "cublas") return false;
  if (!mode.empty() && mode != "auto") {
    throw UserError("environment variable MOLT_CUDA_GEMM is \"" + mode +
                    "\": it must be \"auto\" or \"cublas\"");
  }
  return true;
}

BiasGemmPlans::BiasGemmPlans(cudaStream_t stream) : stream_(stream) {
  MOLT_CUBLAS_CHECK(cublasLtCreate(&handle_));
  workspace_bytes_ = size_t{32} << 20;  // what cuBLAS recommends on Hopper
  const cudaError_t status = cudaMalloc(&workspace_, workspace_bytes_);
  if (status != cudaSuccess) {
    cublasLtDestroy(handle_);
    handle_ = nullptr;
    MOLT_CUDA_CHECK(status);
  }
}

BiasGemmPlans::~BiasGemmPlans() {
  for (auto& [shape, plan] : plans_) {
    if (plan.weight != nullptr) cublasLtMatrixLayoutDestroy(plan.weight);
    if (plan.in != nullptr) cublasLtMatrixLayoutDestroy(plan.in);
    if (plan.out != nullptr) cublasLtMatrixLayoutDestroy(plan.out);
    if (plan.op != nullptr) cublasLtMatmulDescDestroy(plan.op);
  }
  if (workspace_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaFree(workspace_);
  }
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

// outᶜ[N,M] = Wᶜ[K,N]ᵀ·inᶜ[K,M] + b[N] broadcast over the M columns: the same column-major
// reading as gemm() above, with the bias epilogue, whose vector runs along outᶜ's rows.
BiasGemmPlans::Plan BiasGemmPlans::make_plan(int M, int K, int N, DType dtype) {
  Plan plan;
  const cudaDataType_t type = blas_type(dtype);
  MOLT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
  MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.weight, type, K, N, K));
  MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.in, type, K, M, K));
  MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.out, type, N, M, N));
  cublasLtMatmulPreference_t preference = nullptr;
  MOLT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  set_preference(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                 static_cast<uint64_t>(workspace_bytes_));
  for (const auto alignment :
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
    set_preference(preference, alignment, uint32_t{16});
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      handle_, plan.op, plan.weight, plan.in, plan.out, plan.out, preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  // No algorithm (CUBLAS_STATUS_NOT_SUPPORTED, or none found) leaves the plan unusable:
  // that shape takes the broadcast path. Any other failure is an error.
  if (status != CUBLAS_STATUS_NOT_SUPPORTED) MOLT_CUBLAS_CHECK(status);
  plan.usable = status == CUBLAS_STATUS_SUCCESS && found > 0;
  if (plan.usable) plan.algo = result.algo;
  return plan;
}

bool BiasGemmPlans::run(void* out, const void* in, const void* weight, const void* bias, int M,
                        int K, int N, DType dtype) {
  const auto shape = std::make_tuple(M, K, N, dtype);
  auto found = plans_.find(shape);
  if (found == plans_.end()) found = plans_.emplace(shape, make_plan(M, K, N, dtype)).first;
  Plan& plan = found->second;
  if (!plan.usable) return false;
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  const float one = 1.0f, zero = 0.0f;
  MOLT_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.op, &one, weight, plan.weight, in, plan.in, &zero,
                                   out, plan.out, out, plan.out, &plan.algo, workspace_,
                                   workspace_bytes_, stream_));
  return true;
}

void matmul_forward(const DeviceContext& ctx, Tensor out, Tensor in, Tensor weight, Tensor bias,
                    int M, int K, int N) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_forward: negative shape");
  const FloatArray y = floats_covering(out, product(M, N), "matmul_forward: out");
  floats_covering(in, product(M, K), "matmul_forward: in");
  floats_covering(weight, product(N, K), "matmul_forward: weight");
  const FloatArray b = optional_floats(bias, N, "matmul_forward: bias");
  if (M == 0 || N == 0) return;
  if (b.present() && bias_epilogue_fits(ctx, out, in, weight, bias, K, N) &&
      ctx.bias_gemm->run(out.data, in.data, weight.data, bias.data, M, K, N, out.dtype)) {
    return;
  }
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
