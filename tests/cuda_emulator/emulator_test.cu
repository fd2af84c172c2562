// The CUDA emulator's own contracts: that it runs correct CUDA correctly, and that the
// mistakes it promises to catch (emulator.h) do fail. Written as CUDA (this file goes
// through rewrite_cuda_source.py like kernels/cuda/), so nvcc would accept it too.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace molt_emu {
void reset_after_fault();  // emulator.cpp: clears the sticky error a fault leaves
}

namespace {

constexpr int kThreads = 256;

// ---- kernels ------------------------------------------------------------------------------

// out[i] = in[n − 1 − i] through shared memory, with or without the barrier it needs.
__global__ void reverse_kernel(const int* in, int* out, bool barrier) {
  __shared__ int staged[kThreads];
  const int t = threadIdx.x;
  staged[t] = in[t];
  if (barrier) __syncthreads();
  out[t] = staged[kThreads - 1 - t];
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void warp_sum_kernel(const float* in, float* out) {
  float v = in[threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  out[threadIdx.x] = v;
}

// Lanes 16..31 return before the shuffle that names them.
__global__ void exited_lane_kernel(float* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, 1.0f, 0);
}

__global__ void read_dynamic_shared_kernel(float* out) {
  extern __shared__ float dynamic[];
  out[threadIdx.x] = dynamic[threadIdx.x];  // never written
}

// Reads a static shared array before writing it: what an earlier block left, on a GPU.
__global__ void read_static_shared_kernel(float* out) {
  __shared__ float staged[32];
  out[blockIdx.x * 32 + threadIdx.x] = staged[threadIdx.x];
  staged[threadIdx.x] = 1.0f;
}

__global__ void copy_kernel(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x]; }

__global__ void trap_kernel() { __trap(); }

// One warp: C = A·B for 16×16 bf16 tiles through wmma, then lane 0 reads C back from the
// shared tile, with or without the __syncwarp that makes every lane's store visible.
__global__ void wmma_kernel(const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, bool sync) {
  namespace wmma = nvcuda::wmma;
  __shared__ __align__(32) float tile[16 * 16];
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(tile, acc, 16, wmma::mem_row_major);
  if (sync) __syncwarp();
  if (threadIdx.x == 0)
    for (int i = 0; i < 256; ++i) c[i] = tile[i];
}

// ---- helpers ------------------------------------------------------------------------------

template <typename T>
T* device_copy(const std::vector<T>& host) {
  T* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
            cudaSuccess);
  return p;
}

template <typename T>
std::vector<T> host_copy(const T* device, size_t n) {
  std::vector<T> host(n);
  EXPECT_EQ(cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

class CudaEmulatorTest : public ::testing::Test {
 protected:
  void TearDown() override { molt_emu::reset_after_fault(); }
};

// ---- what must work -----------------------------------------------------------------------

TEST_F(CudaEmulatorTest, SharedMemoryWithABarrierReversesABlock) {
  std::vector<int> in(kThreads);
  std::iota(in.begin(), in.end(), 0);
  int* d_in = device_copy(in);
  int* d_out = device_copy(std::vector<int>(kThreads, -1));
  reverse_kernel<<<1, kThreads>>>(d_in, d_out, true);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> out = host_copy(d_out, kThreads);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(out[t], kThreads - 1 - t);
  cudaFree(d_in), cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, ButterflyShufflesGiveEveryLaneTheWarpSum) {
  std::vector<float> in(64);
  std::iota(in.begin(), in.end(), 1.0f);
  float* d_in = device_copy(in);
  float* d_out = device_copy(std::vector<float>(64, 0.0f));
  warp_sum_kernel<<<1, 64>>>(d_in, d_out);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> out = host_copy(d_out, 64);
  for (int t = 0; t < 32; ++t) EXPECT_EQ(out[t], 528.0f);    // 1 + … + 32
  for (int t = 32; t < 64; ++t) EXPECT_EQ(out[t], 1552.0f);  // 33 + … + 64
  cudaFree(d_in), cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, WmmaProductMatchesTheHostsAfterSyncwarp) {
  std::vector<__nv_bfloat16> a(256), b(256);
  std::vector<float> expected(256, 0.0f);
  for (int i = 0; i < 256; ++i) {
    a[i] = __float2bfloat16(static_cast<float>(i % 7) - 3.0f);
    b[i] = __float2bfloat16(static_cast<float>(i % 5) * 0.5f);
  }
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      for (int k = 0; k < 16; ++k)
        expected[r * 16 + c] += __bfloat162float(a[r * 16 + k]) * __bfloat162float(b[k * 16 + c]);
  __nv_bfloat16* d_a = device_copy(a);
  __nv_bfloat16* d_b = device_copy(b);
  float* d_c = device_copy(std::vector<float>(256, 0.0f));
  wmma_kernel<<<1, 32>>>(d_a, d_b, d_c, true);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(host_copy(d_c, 256), expected);
  cudaFree(d_a), cudaFree(d_b), cudaFree(d_c);
}

TEST_F(CudaEmulatorTest, GemmExMatchesTheHostsColumnMajorProduct) {
  const int m = 3, n = 4, k = 5, lda = 6, ldb = 5, ldc = 3;  // A is op T: k×m with ld 6
  std::vector<float> a(lda * m), b(ldb * n), c(ldc * n, 1.0f);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 11) - 5.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 3) + 0.25f;
  std::vector<float> expected(c);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < k; ++l) sum += a[l + i * lda] * b[l + j * ldb];
      expected[i + j * ldc] = 2.0f * sum + 0.5f * c[i + j * ldc];
    }
  float* d_a = device_copy(a);
  float* d_b = device_copy(b);
  float* d_c = device_copy(c);
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  const float alpha = 2.0f, beta = 0.5f;
  ASSERT_EQ(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, d_a, CUDA_R_32F, lda,
                         d_b, CUDA_R_32F, ldb, &beta, d_c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(host_copy(d_c, c.size()), expected);
  // The mistakes cuBLAS rejects: an ld below the operand's rows, f32 inputs into bf16.
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, d_a, CUDA_R_32F, 2, d_b,
                         CUDA_R_32F, ldb, &beta, d_c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, d_a, CUDA_R_32F, lda,
                         d_b, CUDA_R_32F, ldb, &beta, d_c, CUDA_R_16BF, ldc, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
  // An operand that runs past its allocation (n columns of ld 5 need 20 floats of b).
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n + 1, k, &alpha, d_a, CUDA_R_32F,
                         lda, d_b, CUDA_R_32F, ldb, &beta, d_c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasDestroy(handle);
  cudaFree(d_a), cudaFree(d_b), cudaFree(d_c);
}

// cuBLASLt's GELU epilogues: D = gelu(A·B + bias) with the value before GELU in aux, and
// D = gelu'(aux) ⊙ A·B. Also what the heuristic and the product refuse: an aux leading
// dimension that is not a multiple of 8, and an aux pointer less aligned than the one the
// heuristic saw.
TEST_F(CudaEmulatorTest, LtGeluEpiloguesMatchTheHostAndHoldTheirAuxToItsRules) {
  const int m = 8, n = 3, k = 4;
  std::vector<float> a(m * k), b(k * n), bias(m);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.25f * static_cast<float>(i % 7) - 0.75f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.5f * static_cast<float>(i % 5) - 1.0f;
  for (int i = 0; i < m; ++i) bias[i] = 0.125f * i - 0.5f;
  auto gelu = [](float x) {
    return 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
  };
  std::vector<float> product(m * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (int l = 0; l < k; ++l) sum += a[i + l * m] * b[l + j * k];
      product[i + j * m] = sum;
    }
  float* d_a = device_copy(a);
  float* d_b = device_copy(b);
  float* d_bias = device_copy(bias);
  float* d_d = device_copy(std::vector<float>(m * n));
  float* d_aux = device_copy(std::vector<float>(m * n + 8));
  cublasLtHandle_t handle = nullptr;
  ASSERT_EQ(cublasLtCreate(&handle), CUBLAS_STATUS_SUCCESS);
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, m, k, m), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, k, n, k), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, m, n, m), CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulPreference_t preference = nullptr;
  ASSERT_EQ(cublasLtMatmulPreferenceCreate(&preference), CUBLAS_STATUS_SUCCESS);
  // A descriptor with the given epilogue, aux pointer and aux ld; its heuristic's status.
  auto plan = [&](cublasLtEpilogue_t epilogue, float* aux, int64_t aux_ld,
                  cublasLtMatmulDesc_t* desc, cublasLtMatmulAlgo_t* algo) {
    EXPECT_EQ(cublasLtMatmulDescCreate(desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
              CUBLAS_STATUS_SUCCESS);
    cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                   sizeof(epilogue));
    cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &d_bias,
                                   sizeof(d_bias));
    cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux,
                                   sizeof(aux));
    cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld,
                                   sizeof(aux_ld));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle, *desc, la, lb, ld, ld,
                                                                 preference, 1, &result, &found);
    *algo = result.algo;
    return status;
  };
  const float one = 1.0f, zero = 0.0f;
  auto multiply = [&](cublasLtMatmulDesc_t desc, const cublasLtMatmulAlgo_t& algo) {
    return cublasLtMatmul(handle, desc, &one, d_a, la, d_b, lb, &zero, d_d, ld, d_d, ld, &algo,
                          nullptr, 0, nullptr);
  };
  cublasLtMatmulDesc_t forward = nullptr, backward = nullptr, odd_ld = nullptr;
  cublasLtMatmulAlgo_t forward_algo{}, backward_algo{}, odd_algo{};
  ASSERT_EQ(plan(CUBLASLT_EPILOGUE_GELU_AUX_BIAS, d_aux, m, &forward, &forward_algo),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(multiply(forward, forward_algo), CUBLAS_STATUS_SUCCESS);
  const std::vector<float> d = host_copy(d_d, m * n), aux = host_copy(d_aux, m * n);
  for (int i = 0; i < m * n; ++i) {
    const float pre = product[i] + bias[i % m];
    EXPECT_EQ(aux[i], pre) << i;
    EXPECT_EQ(d[i], gelu(pre)) << i;
  }
  // DGELU reads aux (now the pre-GELU values) and scales the plain product by gelu'.
  ASSERT_EQ(plan(CUBLASLT_EPILOGUE_DGELU, d_aux, m, &backward, &backward_algo),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(multiply(backward, backward_algo), CUBLAS_STATUS_SUCCESS);
  const std::vector<float> dgrad = host_copy(d_d, m * n);
  for (int i = 0; i < m * n; ++i) {
    const float x = aux[i], h = 1e-2f;
    const float slope = (gelu(x + h) - gelu(x - h)) / (2 * h);
    EXPECT_NEAR(dgrad[i], slope * product[i], 1e-3f * (1.0f + std::fabs(product[i]))) << i;
  }
  // An aux pointer 16 bytes past the one the heuristic saw (256-aligned) breaks its promise.
  float* shifted = d_aux + 4;
  cublasLtMatmulDescSetAttribute(forward, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &shifted,
                                 sizeof(shifted));
  EXPECT_EQ(multiply(forward, forward_algo), CUBLAS_STATUS_INVALID_VALUE);
  // An aux leading dimension that is not a multiple of 8.
  EXPECT_EQ(plan(CUBLASLT_EPILOGUE_GELU_AUX_BIAS, d_aux, 12, &odd_ld, &odd_algo),
            CUBLAS_STATUS_NOT_SUPPORTED);
  for (cublasLtMatmulDesc_t desc : {forward, backward, odd_ld}) cublasLtMatmulDescDestroy(desc);
  cublasLtMatmulPreferenceDestroy(preference);
  for (cublasLtMatrixLayout_t layout : {la, lb, ld}) cublasLtMatrixLayoutDestroy(layout);
  cublasLtDestroy(handle);
  cudaFree(d_a), cudaFree(d_b), cudaFree(d_bias), cudaFree(d_d), cudaFree(d_aux);
}

// ---- what must fail -----------------------------------------------------------------------

TEST_F(CudaEmulatorTest, AMissingBarrierChangesTheResult) {
  // Values no earlier launch left in the (static) shared array, so stale reads show.
  std::vector<int> in(kThreads);
  std::iota(in.begin(), in.end(), 1000);
  int* d_in = device_copy(in);
  int* d_out = device_copy(std::vector<int>(kThreads, -1));
  reverse_kernel<<<1, kThreads>>>(d_in, d_out, false);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<int> out = host_copy(d_out, kThreads);
  int wrong = 0;
  for (int t = 0; t < kThreads; ++t) wrong += out[t] != 1000 + kThreads - 1 - t;
  EXPECT_GT(wrong, 0) << "the shuffled fiber order should expose the missing __syncthreads";
  cudaFree(d_in), cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, AMissingSyncwarpAfterAWmmaStoreChangesTheResult) {
  __nv_bfloat16* d_a = device_copy(std::vector<__nv_bfloat16>(256));
  __nv_bfloat16* d_ones = device_copy(std::vector<__nv_bfloat16>(256, __float2bfloat16(1.0f)));
  float* d_c = device_copy(std::vector<float>(256, 0.0f));
  // Lane 0 sees every store only when it happens to run last of its warp (1 in 32): of
  // eight launches, some must read tiles that other lanes had not stored yet. Each launch
  // computes another product (A = (16 + L)/16 everywhere gives 16 + L), so a stale tile
  // never looks right.
  int complete = 0;
  for (int launch = 0; launch < 8; ++launch) {
    const std::vector<__nv_bfloat16> a(256, __float2bfloat16((16.0f + launch) / 16.0f));
    ASSERT_EQ(cudaMemcpy(d_a, a.data(), 512, cudaMemcpyHostToDevice), cudaSuccess);
    wmma_kernel<<<1, 32>>>(d_a, d_ones, d_c, false);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    complete += host_copy(d_c, 256) == std::vector<float>(256, 16.0f + launch);
  }
  EXPECT_LT(complete, 8) << "other lanes' stores must not be visible without __syncwarp";
  cudaFree(d_a), cudaFree(d_ones), cudaFree(d_c);
}

TEST_F(CudaEmulatorTest, DivergentSyncthreadsFailsTheLaunch) {
  int* d_out = device_copy(std::vector<int>(64, 0));
  divergent_barrier_kernel<<<1, 64>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure) << "a fault is sticky";
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, AShuffleNamingAnExitedLaneFailsTheLaunch) {
  float* d_out = device_copy(std::vector<float>(32, 0.0f));
  exited_lane_kernel<<<1, 32>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, TrapFailsTheLaunch) {
  trap_kernel<<<2, 32>>>();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
}

TEST_F(CudaEmulatorTest, UnwrittenDynamicSharedMemoryReadsAsNaN) {
  float* d_out = device_copy(std::vector<float>(32, 0.0f));
  read_dynamic_shared_kernel<<<1, 32, 32 * sizeof(float)>>>(d_out);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (float v : host_copy(d_out, 32)) EXPECT_TRUE(std::isnan(v));
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, StaticSharedMemoryReadsAsNaNInEveryBlockAfterItsFirstUse) {
  float* d_out = device_copy(std::vector<float>(96, 0.0f));
  read_static_shared_kernel<<<3, 32>>>(d_out);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> out = host_copy(d_out, 96);
  for (int i = 32; i < 96; ++i)
    EXPECT_TRUE(std::isnan(out[i])) << i << ": not the 1.0 block 0 left";
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, LaunchConfigurationsBeyondTheDevicesLimitsAreRejected) {
  float* d_out = device_copy(std::vector<float>(32, 0.0f));
  read_dynamic_shared_kernel<<<1, 2048>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "2048 threads per block";
  read_dynamic_shared_kernel<<<dim3(1, 70000), 32>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "gridDim.y above 65535";
  const int bytes = 64 << 10;
  read_dynamic_shared_kernel<<<1, 32, bytes>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "64 KiB without opting in";
  ASSERT_EQ(cudaFuncSetAttribute(read_dynamic_shared_kernel,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
            cudaSuccess);
  read_dynamic_shared_kernel<<<1, 32, bytes>>>(d_out);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "64 KiB after cudaFuncSetAttribute";
  EXPECT_EQ(cudaFuncSetAttribute(read_dynamic_shared_kernel,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 256 << 10),
            cudaErrorInvalidValue)
      << "above the device's opt-in limit";
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, AHostPointerKernelArgumentFailsTheLaunch) {
  std::vector<float> host(32, 1.0f);
  float* d_out = device_copy(std::vector<float>(32, 0.0f));
  copy_kernel<<<1, 32>>>(host.data(), d_out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  cudaFree(d_out);
}

TEST_F(CudaEmulatorTest, CopiesOutsideAnAllocationAreRejected) {
  float* d = device_copy(std::vector<float>(8, 0.0f));
  std::vector<float> host(16, 0.0f);
  EXPECT_EQ(cudaMemcpy(d, host.data(), 16 * sizeof(float), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), d + 4, 8 * sizeof(float), cudaMemcpyDeviceToHost),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset(d + 1, 0, 8 * sizeof(float)), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(host.data()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
}

}  // namespace
