// CpuBackend: host memory plus dispatch to the op families in this folder.
#include "kernels/cpu/cpu_backend.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/adamw.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norms.h"

namespace molt::kernels::cpu {
namespace {

constexpr size_t kAlignmentBytes = 64;
// Buffers this large are mapped from the kernel: its pages are already zero, so a large
// allocation costs no memset and no memory until it is used. Smaller ones: aligned_alloc +
// memset. (Models built only to be counted use kernels/sizing_backend.h instead.)
constexpr size_t kMappedBytes = size_t(1) << 20;

// aligned_alloc wants a size that is a multiple of the alignment.
size_t allocated_bytes(const Tensor& tensor) {
  return (tensor.bytes() + kAlignmentBytes - 1) / kAlignmentBytes * kAlignmentBytes;
}

}  // namespace

CpuBackend::CpuBackend() { use_openmp_threads_only(); }

Tensor CpuBackend::allocate(DType dtype, size_t count) {
  Tensor tensor;
  tensor.dtype = dtype;
  tensor.count = count;
  if (count == 0) return tensor;
  const size_t bytes = allocated_bytes(tensor);
  if (bytes >= kMappedBytes) {
    void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    tensor.data = mapped;
  } else {
    tensor.data = std::aligned_alloc(kAlignmentBytes, bytes);
    if (tensor.data == nullptr) throw std::bad_alloc();
    std::memset(tensor.data, 0, bytes);
  }
  count_allocation(tensor);
  return tensor;
}

void CpuBackend::free(Tensor tensor) {
  if (tensor.data == nullptr) return;
  count_free(tensor);
  const size_t bytes = allocated_bytes(tensor);
  if (bytes >= kMappedBytes) {
    munmap(tensor.data, bytes);
  } else {
    std::free(tensor.data);
  }
}

void CpuBackend::upload(Tensor dst, const void* host_src) {
  if (dst.count != 0) std::memcpy(dst.data, host_src, dst.bytes());
}

void CpuBackend::download(void* host_dst, Tensor src) {
  if (src.count != 0) std::memcpy(host_dst, src.data, src.bytes());
}

void CpuBackend::fill(Tensor x, float value) { cpu::fill(x, value); }
void CpuBackend::copy(Tensor dst, Tensor src) { cpu::copy(dst, src); }
void CpuBackend::scale(Tensor x, float factor) { cpu::scale(x, factor); }
void CpuBackend::add(Tensor out, Tensor a, Tensor b) { cpu::add(out, a, b); }
void CpuBackend::accumulate(Tensor dst, Tensor src) { cpu::accumulate(dst, src); }

void CpuBackend::matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K,
                                int N) {
  cpu::matmul_forward(out, in, weight, bias, M, K, N);
}
void CpuBackend::matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                                 Tensor weight, int M, int K, int N, Din din_mode) {
  cpu::matmul_backward(din, dweight, dbias, dout, in, weight, M, K, N, din_mode);
}

void CpuBackend::layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in,
                                   Tensor weight, Tensor bias, int N, int C, float eps) {
  cpu::layernorm_forward(out, mean, rstd, in, weight, bias, N, C, eps);
}
void CpuBackend::layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout,
                                    Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                                    int C) {
  cpu::layernorm_backward(din, dweight, dbias, dout, in, weight, mean, rstd, N, C);
}
void CpuBackend::rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C,
                                 float eps) {
  cpu::rmsnorm_forward(out, rstd, in, weight, N, C, eps);
}
void CpuBackend::rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in,
                                  Tensor weight, Tensor rstd, int N, int C) {
  cpu::rmsnorm_backward(din, dweight, dout, in, weight, rstd, N, C);
}

void CpuBackend::gelu_forward(Tensor out, Tensor in) { cpu::gelu_forward(out, in); }
void CpuBackend::gelu_backward(Tensor din, Tensor dout, Tensor in) {
  cpu::gelu_backward(din, dout, in);
}
void CpuBackend::gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) {
  cpu::gated_gelu_forward(out, gate, linear);
}
void CpuBackend::gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate,
                                     Tensor linear) {
  cpu::gated_gelu_backward(dgate, dlinear, dout, gate, linear);
}

void CpuBackend::attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                   Tensor bias, Tensor prefix_lengths,
                                   const AttentionShape& shape) {
  cpu::attention_forward(out, lse, q, k, v, bias, prefix_lengths, shape);
}
void CpuBackend::attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout,
                                    Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                    Tensor bias, Tensor prefix_lengths,
                                    const AttentionShape& shape) {
  cpu::attention_backward(dq, dk, dv, dbias, dout, out, lse, q, k, v, bias, prefix_lengths,
                          shape);
}

void CpuBackend::embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B,
                                   int T, int C) {
  cpu::embedding_forward(out, ids, table, positions, B, T, C);
}
void CpuBackend::embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids,
                                    int B, int T, int C) {
  cpu::embedding_backward(dtable, dpositions, dout, ids, B, T, C);
}
void CpuBackend::position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq,
                                       int Tk) {
  cpu::position_bias_forward(out, table, buckets, H, Tq, Tk);
}
void CpuBackend::position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H,
                                        int Tq, int Tk) {
  cpu::position_bias_backward(dtable, dout, buckets, H, Tq, Tk);
}

void CpuBackend::cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V,
                               int ignore_index, float grad_scale) {
  cpu::cross_entropy(logits, losses, targets, N, V, ignore_index, grad_scale);
}

void CpuBackend::adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
                       const AdamWStep& step) {
  cpu::adamw(params, grads, m, v, compute_params, step);
}
double CpuBackend::sum_of_squares(Tensor x) { return cpu::sum_of_squares(x); }

}  // namespace molt::kernels::cpu
