// The one way the CPU backend calls OpenBLAS, and the backend's threading policy.
#pragma once

#include <cblas.h>

namespace molt::kernels::cpu {

// Makes OpenMP the only thread pool: pins OpenBLAS to one thread (see gemm.cpp for why).
// Called once by the CpuBackend constructor.
void use_openmp_threads_only();

// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, split across the OpenMP threads along M
// or N (whichever gives each thread more work). Call it from serial code only.
void sgemm_parallel(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                    float* C, int ldc);

// The same product on the calling thread alone, for use inside an OpenMP region.
void sgemm_serial(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                  float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc);

}  // namespace molt::kernels::cpu
