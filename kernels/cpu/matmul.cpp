// Linear layers: three GEMMs and a column sum.
//
//   forward   out[M,N]  = in[M,K]·W[N,K]ᵀ + b        (b broadcast first, then beta = 1)
//   backward  din[M,K] += dout[M,N]·W[N,K]           (beta = 1: backward accumulates)
//             dW[N,K]  += dout[M,N]ᵀ·in[M,K]
//             db[N]    += Σ_m dout[m, :]
// The bias is written into out before the GEMM so the GEMM's beta = 1 adds the product
// to it: one pass over out instead of two. The column sum for db walks dout row by row
// (contiguous) with each thread owning a slice of columns, so threads never share a
// db element and the result does not depend on the thread count.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/checks.h"
#include "kernels/cpu/gemm.h"

namespace molt::kernels::cpu {
namespace {

void broadcast_bias_rows(float* out, const float* bias, int M, int N) {
#pragma omp parallel for if (product(M, N) > (1 << 16))
  for (int m = 0; m < M; ++m) std::memcpy(out + product(m, N), bias, sizeof(float) * N);
}

void add_column_sums(float* dbias, const float* dout, int M, int N) {
  constexpr int kColumns = 64;
  const int slices = (N + kColumns - 1) / kColumns;
#pragma omp parallel for if (product(M, N) > (1 << 16))
  for (int s = 0; s < slices; ++s) {
    const int begin = s * kColumns;
    const int end = std::min(N, begin + kColumns);
    float sums[kColumns] = {};
    for (int m = 0; m < M; ++m) {
      const float* row = dout + product(m, N);
      for (int n = begin; n < end; ++n) sums[n - begin] += row[n];
    }
    for (int n = begin; n < end; ++n) dbias[n] += sums[n - begin];
  }
}

}  // namespace

void matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K, int N) {
  float* y = f32_covering(out, product(M, N), "matmul_forward: out");
  const float* x = f32_covering(in, product(M, K), "matmul_forward: in");
  const float* w = f32_covering(weight, product(N, K), "matmul_forward: weight");
  const float* b = optional_f32(bias, N, "matmul_forward: bias");
  if (b != nullptr) broadcast_bias_rows(y, b, M, N);
  sgemm_parallel(CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, b != nullptr ? 1.0f : 0.0f,
                 y, N);
}

void matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                     Tensor weight, int M, int K, int N, Din din_mode) {
  const float* dy = f32_covering(dout, product(M, N), "matmul_backward: dout");
  if (float* dx = optional_f32(din, product(M, K), "matmul_backward: din")) {
    const float* w = f32_covering(weight, product(N, K), "matmul_backward: weight");
    const float beta = din_mode == Din::kAdd ? 1.0f : 0.0f;
    sgemm_parallel(CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, w, K, beta, dx, K);
  }
  if (float* dw = optional_f32(dweight, product(N, K), "matmul_backward: dweight")) {
    const float* x = f32_covering(in, product(M, K), "matmul_backward: in");
    sgemm_parallel(CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
  }
  if (float* db = optional_f32(dbias, N, "matmul_backward: dbias")) {
    add_column_sums(db, dy, M, N);
  }
}

}  // namespace molt::kernels::cpu
