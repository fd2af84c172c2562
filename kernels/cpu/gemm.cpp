// GEMM on OpenBLAS, threaded by OpenMP.
//
// Debian's OpenBLAS is the pthread build: it owns a second thread pool that knows nothing
// of OpenMP. Mixing the two either oversubscribes the cores (a BLAS call from inside an
// OpenMP region spawns its own workers) or leaves one pool spinning while the other works
// (both busy-wait between jobs; on a 2-core machine that halves throughput). So molt pins
// OpenBLAS to one thread and does the splitting itself: each OpenMP thread computes a
// block of rows (or columns) of C with a single-threaded sgemm. Rows of C depend only on
// the matching rows of op(A), columns only on the matching columns of op(B):
//   C[m0:m1, :] = alpha·op(A)[m0:m1, :]·op(B) + beta·C[m0:m1, :]
// One pool means OMP_NUM_THREADS alone sets the parallelism, and attention can call
// sgemm_serial per (batch, head) from inside its own parallel loop.
#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <algorithm>

namespace molt::kernels::cpu {
namespace {

// Below this many multiply-adds a GEMM is not worth waking the other threads for.
constexpr double kParallelMacs = 1 << 18;
// Blocks are rounded to the micro-kernel height so no thread gets a ragged sliver.
constexpr int kBlockAlign = 16;

// Offset of row `r` of op(X) in a row-major X with leading dimension ld.
const float* op_row(const float* X, CBLAS_TRANSPOSE trans, int r, int ld) {
  return trans == CblasNoTrans ? X + static_cast<long>(r) * ld : X + r;
}

}  // namespace

void use_openmp_threads_only() { openblas_set_num_threads(1); }

void sgemm_serial(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                  float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_parallel(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                    float* C, int ldc) {
  const int threads = omp_get_max_threads();
  const double macs = static_cast<double>(M) * N * K;
  if (threads <= 1 || macs < kParallelMacs || omp_in_parallel()) {
    sgemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = M >= N || M >= threads * 4 * kBlockAlign;
  const int extent = split_rows ? M : N;
  int block = (extent + threads - 1) / threads;
  block = std::max(kBlockAlign, (block + kBlockAlign - 1) / kBlockAlign * kBlockAlign);
  const int blocks = (extent + block - 1) / block;
#pragma omp parallel for num_threads(std::min(threads, blocks)) schedule(static, 1)
  for (int i = 0; i < blocks; ++i) {
    const int begin = i * block;
    const int size = std::min(block, extent - begin);
    if (split_rows) {
      sgemm_serial(trans_a, trans_b, size, N, K, alpha, op_row(A, trans_a, begin, lda), lda, B,
                   ldb, beta, C + static_cast<long>(begin) * ldc, ldc);
    } else {
      // Column j of op(B) is row j of B when op(B) = Bᵀ, column j of B otherwise.
      const CBLAS_TRANSPOSE flipped = trans_b == CblasNoTrans ? CblasTrans : CblasNoTrans;
      sgemm_serial(trans_a, trans_b, M, size, K, alpha, A, lda,
                   op_row(B, flipped, begin, ldb), ldb, beta, C + begin, ldc);
    }
  }
}

}  // namespace molt::kernels::cpu
