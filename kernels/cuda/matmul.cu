// Linear layers: cublasGemmEx with f32 accumulation (CUBLAS_COMPUTE_32F).
//
//   forward   out[M,N]  = in[M,K]·W[N,K]ᵀ + b        (b broadcast into out, then beta = 1)
//   backward  din[M,K] (+)= dout[M,N]·W[N,K]         (beta = 1 for Din::kAdd, else 0)
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
// A forward with a bias runs as cuBLASLt's bias epilogue (EpilogueGemmPlans, matmul.h) when
// out, in, W and b share a dtype, start on 16 bytes and K, N are multiples of 8 (what the
// plans' 16-byte alignment preference promises cuBLASLt), and cuBLASLt has an algorithm for
// the shape. Otherwise the bias is broadcast into out and the GEMM adds onto it (beta = 1).
// The epilogue adds b to the f32 accumulator before the one rounding to out's dtype; the
// broadcast path rounds the product onto a bf16 b, so bf16 results may differ in the last
// bit. MOLT_CUDA_GEMM=cublas forces the broadcast path (to compare the two on a GPU).
//
// GELU epilogues (bf16 only, same alignment rules), for GPT-2's MLP:
//   matmul_gelu_forward   preᶜ = Wᶜᵀ·inᶜ + b, outᶜ = gelu(preᶜ)   GELU_AUX_BIAS, aux = pre
//   matmul_gelu_backward  dpreᶜ[K,M] = gelu'(preᶜ) ⊙ Wᶜ·doutᶜ     DGELU, aux = pre (ld K)
// The forward writes pre and out in the GEMM's one pass, where the unfused path writes pre,
// then reads it and writes out. The backward writes dpre directly, where the unfused path
// writes the product to a scratch, zero-fills dpre and runs the GELU gradient over three
// [M,K] tensors. The epilogue applies GELU to the f32 accumulator; the unfused path applies
// it to pre rounded to bf16, so the two differ in rounding. cuBLASLt's GELU is taken to be
// the tanh form that GPT-2 and the CPU use (the CUDA emulator implements it so; the bf16
// tests bound the difference on a GPU).
#include "kernels/cuda/matmul.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

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

// Whether every operand of a product may take an epilogue (see the file comment): one
// dtype, 16-byte starts, K and N multiples of 8, and epilogues allowed.
bool epilogue_fits(const DeviceContext& ctx, std::initializer_list<Tensor> operands, int K, int N) {
  if (ctx.epilogue_gemm == nullptr || !bias_epilogue_allowed() || K <= 0 || K % 8 != 0 ||
      N % 8 != 0) {
    return false;
  }
  const DType dtype = operands.begin()->dtype;
  return std::all_of(operands.begin(), operands.end(),
                     [dtype](const Tensor& t) { return t.dtype == dtype && on_16_bytes(t.data); });
}

// What cuBLASLt's heuristic sees of a pointer: the largest power of two it is a multiple
// of, up to 256 (0 for none).
size_t alignment_of(const void* p) {
  if (p == nullptr) return 0;
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  return std::min<size_t>(256, address & (~address + 1));
}

cublasLtEpilogue_t lt_epilogue(Epilogue epilogue) {
  switch (epilogue) {
    case Epilogue::kBias:
      return CUBLASLT_EPILOGUE_BIAS;
    case Epilogue::kGeluAux:
      return CUBLASLT_EPILOGUE_GELU_AUX;
    case Epilogue::kGeluAuxBias:
      return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    case Epilogue::kDgelu:
      return CUBLASLT_EPILOGUE_DGELU;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool reads_bias(Epilogue epilogue) {
  return epilogue == Epilogue::kBias || epilogue == Epilogue::kGeluAuxBias;
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

// The per-call pointers of a plan: set before its heuristic and before each run.
void set_pointers(cublasLtMatmulDesc_t op, const LtProduct& product, const void* bias,
                  const void* aux) {
  if (reads_bias(product.epilogue)) set_attribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  if (product.epilogue != Epilogue::kBias) {
    set_attribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, aux);
  }
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

EpilogueGemmPlans::EpilogueGemmPlans(cudaStream_t stream, CountBytes count)
    : stream_(stream), report_(std::move(count)) {
  MOLT_CUBLAS_CHECK(cublasLtCreate(&handle_));
  workspace_bytes_ = size_t{32} << 20;  // what cuBLAS recommends on Hopper
  const cudaError_t status = cudaMalloc(&workspace_, workspace_bytes_);
  if (status != cudaSuccess) {
    cublasLtDestroy(handle_);
    handle_ = nullptr;
    MOLT_CUDA_CHECK(status);
  }
  report_(workspace_bytes_, 0);
}

EpilogueGemmPlans::~EpilogueGemmPlans() {
  for (auto& [key, plan] : plans_) {
    if (plan.a != nullptr) cublasLtMatrixLayoutDestroy(plan.a);
    if (plan.b != nullptr) cublasLtMatrixLayoutDestroy(plan.b);
    if (plan.d != nullptr) cublasLtMatrixLayoutDestroy(plan.d);
    if (plan.op != nullptr) cublasLtMatmulDescDestroy(plan.op);
  }
  if (workspace_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaFree(workspace_);
    report_(0, workspace_bytes_);
  }
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

EpilogueGemmPlans::Plan EpilogueGemmPlans::make_plan(const LtProduct& p, const void* bias,
                                                     const void* aux) {
  Plan plan;
  const cudaDataType_t type = blas_type(p.dtype);
  MOLT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, p.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N);
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  set_attribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE, lt_epilogue(p.epilogue));
  if (p.epilogue != Epilogue::kBias) {
    set_attribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, static_cast<int64_t>(p.m));
  }
  set_pointers(plan.op, p, bias, aux);
  if (p.transpose_a) {
    MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, type, p.k, p.m, p.k));
  } else {
    MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, type, p.m, p.k, p.m));
  }
  MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, type, p.k, p.n, p.k));
  MOLT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.d, type, p.m, p.n, p.m));
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
      handle_, plan.op, plan.a, plan.b, plan.d, plan.d, preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  // No algorithm (CUBLAS_STATUS_NOT_SUPPORTED, or none found) leaves the plan unusable:
  // that product takes the unfused path. Any other failure is an error.
  if (status != CUBLAS_STATUS_NOT_SUPPORTED) MOLT_CUBLAS_CHECK(status);
  plan.usable = status == CUBLAS_STATUS_SUCCESS && found > 0;
  if (plan.usable) plan.algo = result.algo;
  return plan;
}

bool EpilogueGemmPlans::run(const LtProduct& p, void* d, const void* a, const void* b,
                            const void* bias, void* aux) {
  const Key key{p.epilogue,         p.transpose_a,    p.m, p.n, p.k, p.dtype,
                alignment_of(bias), alignment_of(aux)};
  auto found = plans_.find(key);
  if (found == plans_.end()) found = plans_.emplace(key, make_plan(p, bias, aux)).first;
  Plan& plan = found->second;
  if (!plan.usable) return false;
  set_pointers(plan.op, p, bias, aux);
  const float one = 1.0f, zero = 0.0f;
  MOLT_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.op, &one, a, plan.a, b, plan.b, &zero, d, plan.d,
                                   d, plan.d, &plan.algo, workspace_, workspace_bytes_, stream_));
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
  if (b.present() && epilogue_fits(ctx, {out, in, weight, bias}, K, N) &&
      ctx.epilogue_gemm->run({Epilogue::kBias, true, N, M, K, out.dtype}, out.data, weight.data,
                             in.data, bias.data, nullptr)) {
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
                     Tensor dout, Tensor in, Tensor weight, int M, int K, int N, Din din_mode) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_backward: negative shape");
  floats_covering(dout, product(M, N), "matmul_backward: dout");
  if (!din.empty()) {
    floats_covering(din, product(M, K), "matmul_backward: din");
    floats_covering(weight, product(N, K), "matmul_backward: weight");
    gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, {weight.data, weight.dtype, K},
         {dout.data, dout.dtype, N}, din_mode == Din::kAdd ? 1.0f : 0.0f, din.data, din.dtype, K,
         "matmul_backward (din)");
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

bool matmul_gelu_forward_fused(const DeviceContext& ctx, Tensor out, Tensor pre, Tensor in,
                               Tensor weight, Tensor bias, int M, int K, int N) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_gelu_forward: negative shape");
  floats_covering(out, product(M, N), "matmul_gelu_forward: out");
  floats_covering(pre, product(M, N), "matmul_gelu_forward: pre");
  floats_covering(in, product(M, K), "matmul_gelu_forward: in");
  floats_covering(weight, product(N, K), "matmul_gelu_forward: weight");
  const bool with_bias = optional_floats(bias, N, "matmul_gelu_forward: bias").present();
  if (M == 0 || out.dtype != DType::kBF16) return false;
  if (!epilogue_fits(ctx, {out, pre, in, weight}, K, N)) return false;
  if (with_bias && !epilogue_fits(ctx, {out, bias}, K, N)) return false;
  const LtProduct product{
      with_bias ? Epilogue::kGeluAuxBias : Epilogue::kGeluAux, true, N, M, K, DType::kBF16};
  return ctx.epilogue_gemm->run(product, out.data, weight.data, in.data,
                                with_bias ? bias.data : nullptr, pre.data);
}

bool matmul_gelu_backward_fused(const DeviceContext& ctx, Tensor dpre, Tensor dweight, Tensor dbias,
                                Tensor dout, Tensor in, Tensor weight, Tensor pre, int M, int K,
                                int N) {
  require(M >= 0 && K >= 0 && N >= 0, "matmul_gelu_backward: negative shape");
  floats_covering(dpre, product(M, K), "matmul_gelu_backward: dpre");
  floats_covering(pre, product(M, K), "matmul_gelu_backward: pre");
  floats_covering(dout, product(M, N), "matmul_gelu_backward: dout");
  floats_covering(weight, product(N, K), "matmul_gelu_backward: weight");
  // dpreᶜ[K,M] = Wᶜ[K,N]·doutᶜ[N,M]: m = K and k = N, so the alignment rules read (N, K).
  if (M == 0 || dpre.dtype != DType::kBF16) return false;
  if (!epilogue_fits(ctx, {dpre, pre, dout, weight}, N, K)) return false;
  const LtProduct product{Epilogue::kDgelu, false, K, M, N, DType::kBF16};
  if (!ctx.epilogue_gemm->run(product, dpre.data, weight.data, dout.data, nullptr, pre.data)) {
    return false;
  }
  matmul_backward(ctx, Tensor{}, dweight, dbias, dout, in, weight, M, K, N, Din::kAdd);
  return true;
}

}  // namespace molt::kernels::cuda
