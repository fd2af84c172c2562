// CudaBackend: device state (stream, cuBLAS handle, scratch, error flag), memory, and
// dispatch to the op families in this folder. See cuda_backend.h for the design.
#include "kernels/cuda/cuda_backend.h"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernels/cuda/activations.h"
#include "kernels/cuda/adamw.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/checks.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/norms.h"
#include "kernels/cuda/runtime_info.h"
#include "kernels/error.h"

namespace molt::kernels {

std::unique_ptr<Backend> make_cuda_backend(int device, DType compute_dtype) {
  return std::make_unique<cuda::CudaBackend>(device, compute_dtype);
}

namespace cuda {

CudaBackend::CudaBackend(int device, DType compute_dtype)
    : device_(device), compute_dtype_(compute_dtype) {
  require(compute_dtype == DType::kF32 || compute_dtype == DType::kBF16,
          std::string("compute dtype must be f32 or bf16, not ") + dtype_name(compute_dtype));
  choose_attention_kernel(false, 0);  // a bad MOLT_CUDA_ATTENTION or MOLT_CUDA_GEMM fails
  bias_epilogue_allowed();            // here, before any work
  const int devices = visible_device_count();
  if (device < 0 || device >= devices) {
    throw UserError("CUDA device " + std::to_string(device) + " is not available (" +
                    std::to_string(devices) + " visible: " + runtime_description() + ")");
  }
  try {
    MOLT_CUDA_CHECK(cudaSetDevice(device));
    MOLT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    MOLT_CUBLAS_CHECK(cublasCreate(&blas_));
    MOLT_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    const CountBytes count = [this](size_t allocated, size_t freed) {
      count_own_bytes(allocated, freed);
    };
    scratch_ = std::make_unique<DeviceScratch>(stream_, count);
    ones_ = std::make_unique<OnesVectors>(stream_, count);
    epilogue_gemm_ = std::make_unique<EpilogueGemmPlans>(stream_, count);
    MOLT_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&index_error_host_), sizeof(int),
                                  cudaHostAllocMapped));
    *index_error_host_ = kNoIndexError;
    int* index_error_device = nullptr;
    MOLT_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&index_error_device),
                                             index_error_host_, 0));
    ctx_ = DeviceContext{stream_,        blas_,       epilogue_gemm_.get(),
                         scratch_.get(), ones_.get(), index_error_device};
  } catch (...) {
    release();
    throw;
  }
}

CudaBackend::~CudaBackend() { release(); }

void CudaBackend::release() noexcept {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  scratch_.reset();
  ones_.reset();
  epilogue_gemm_.reset();
  if (index_error_host_ != nullptr) cudaFreeHost(index_error_host_);
  if (blas_ != nullptr) cublasDestroy(blas_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  index_error_host_ = nullptr;
  blas_ = nullptr;
  stream_ = nullptr;
}

void CudaBackend::raise_index_errors() {
  const int code = *static_cast<volatile int*>(index_error_host_);
  if (code == kNoIndexError) return;
  *index_error_host_ = kNoIndexError;
  throw std::logic_error(std::string("cuda backend: ") + index_error_description(code) +
                         " (found on the device by an earlier op)");
}

std::optional<size_t> CudaBackend::device_memory_free() const {
  size_t free = 0, total = 0;
  if (cudaSetDevice(device_) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess) {
    cudaGetLastError();  // no answer is not a sticky error for the next launch check
    return std::nullopt;
  }
  return free;
}

Tensor CudaBackend::allocate(DType dtype, size_t count) {
  Tensor tensor;
  tensor.dtype = dtype;
  tensor.count = count;
  if (count == 0) return tensor;
  MOLT_CUDA_CHECK(cudaMalloc(&tensor.data, tensor.bytes()));
  count_allocation(tensor);
  MOLT_CUDA_CHECK(cudaMemsetAsync(tensor.data, 0, tensor.bytes(), stream_));
  return tensor;
}

// Never throws: free() runs from destructors, often while another exception unwinds. A
// failure here is a sticky device error that the next checked call reports anyway.
void CudaBackend::free(Tensor tensor) {
  if (tensor.data == nullptr) return;
  count_free(tensor);
  cudaError_t status = cudaStreamSynchronize(stream_);  // no op may still use the buffer
  if (status == cudaSuccess) status = cudaFree(tensor.data);
  if (status != cudaSuccess) {
    std::fprintf(stderr, "molt: cuda backend: freeing a buffer failed: %s\n",
                 cudaGetErrorString(status));
  }
}

void CudaBackend::upload(Tensor dst, const void* host_src) {
  if (dst.count == 0) return;
  MOLT_CUDA_CHECK(
      cudaMemcpyAsync(dst.data, host_src, dst.bytes(), cudaMemcpyHostToDevice, stream_));
  MOLT_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::download(void* host_dst, Tensor src) {
  if (src.count != 0) {
    MOLT_CUDA_CHECK(
        cudaMemcpyAsync(host_dst, src.data, src.bytes(), cudaMemcpyDeviceToHost, stream_));
  }
  MOLT_CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_index_errors();
}

void CudaBackend::synchronize() {
  MOLT_CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_index_errors();
}

void* CudaBackend::allocate_host(size_t bytes) {
  void* host = nullptr;
  MOLT_CUDA_CHECK(cudaHostAlloc(&host, bytes == 0 ? 1 : bytes, cudaHostAllocDefault));
  return host;
}

// Never throws, like free().
void CudaBackend::free_host(void* host) {
  if (host == nullptr) return;
  const cudaError_t status = cudaFreeHost(host);
  if (status != cudaSuccess) {
    std::fprintf(stderr, "molt: cuda backend: freeing pinned host memory failed: %s\n",
                 cudaGetErrorString(status));
  }
}

void CudaBackend::fill(Tensor x, float value) { cuda::fill(ctx_, x, value); }
void CudaBackend::copy(Tensor dst, Tensor src) { cuda::copy(ctx_, dst, src); }
void CudaBackend::scale(Tensor x, float factor) { cuda::scale(ctx_, x, factor); }
void CudaBackend::add(Tensor out, Tensor a, Tensor b) { cuda::add(ctx_, out, a, b); }
void CudaBackend::accumulate(Tensor dst, Tensor src) { cuda::accumulate(ctx_, dst, src); }

void CudaBackend::matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K,
                                 int N) {
  cuda::matmul_forward(ctx_, out, in, weight, bias, M, K, N);
}
void CudaBackend::matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                                  Tensor weight, int M, int K, int N, Din din_mode) {
  cuda::matmul_backward(ctx_, din, dweight, dbias, dout, in, weight, M, K, N, din_mode);
}
// The GELU rides in the GEMM's epilogue where matmul.cu can fuse it, else the base class
// runs the ops one after another.
void CudaBackend::matmul_gelu_forward(Tensor out, Tensor pre, Tensor in, Tensor weight, Tensor bias,
                                      int M, int K, int N) {
  if (cuda::matmul_gelu_forward_fused(ctx_, out, pre, in, weight, bias, M, K, N)) return;
  Backend::matmul_gelu_forward(out, pre, in, weight, bias, M, K, N);
}
void CudaBackend::matmul_gelu_backward(Tensor dpre, Tensor dweight, Tensor dbias, Tensor dout,
                                       Tensor in, Tensor weight, Tensor pre, Tensor scratch, int M,
                                       int K, int N) {
  if (cuda::matmul_gelu_backward_fused(ctx_, dpre, dweight, dbias, dout, in, weight, pre, M, K,
                                       N)) {
    return;
  }
  Backend::matmul_gelu_backward(dpre, dweight, dbias, dout, in, weight, pre, scratch, M, K, N);
}

void CudaBackend::layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in, Tensor weight,
                                    Tensor bias, int N, int C, float eps) {
  cuda::layernorm_forward(ctx_, out, mean, rstd, in, weight, bias, N, C, eps);
}
void CudaBackend::layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout,
                                     Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                                     int C) {
  cuda::layernorm_backward(ctx_, din, dweight, dbias, dout, in, weight, mean, rstd, N, C);
}
void CudaBackend::rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C,
                                  float eps) {
  cuda::rmsnorm_forward(ctx_, out, rstd, in, weight, N, C, eps);
}
void CudaBackend::rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in,
                                   Tensor weight, Tensor rstd, int N, int C) {
  cuda::rmsnorm_backward(ctx_, din, dweight, dout, in, weight, rstd, N, C);
}

void CudaBackend::gelu_forward(Tensor out, Tensor in) { cuda::gelu_forward(ctx_, out, in); }
void CudaBackend::gelu_backward(Tensor din, Tensor dout, Tensor in) {
  cuda::gelu_backward(ctx_, din, dout, in);
}
void CudaBackend::gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) {
  cuda::gated_gelu_forward(ctx_, out, gate, linear);
}
void CudaBackend::gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate,
                                      Tensor linear) {
  cuda::gated_gelu_backward(ctx_, dgate, dlinear, dout, gate, linear);
}

void CudaBackend::attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                    Tensor bias, Tensor prefix_lengths,
                                    const AttentionShape& shape) {
  cuda::attention_forward(ctx_, out, lse, q, k, v, bias, prefix_lengths, shape);
}
void CudaBackend::attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout,
                                     Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                     Tensor bias, Tensor prefix_lengths,
                                     const AttentionShape& shape) {
  cuda::attention_backward(ctx_, dq, dk, dv, dbias, dout, out, lse, q, k, v, bias, prefix_lengths,
                           shape);
}

void CudaBackend::embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B,
                                    int T, int C) {
  cuda::embedding_forward(ctx_, out, ids, table, positions, B, T, C);
}
void CudaBackend::embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids,
                                     int B, int T, int C) {
  cuda::embedding_backward(ctx_, dtable, dpositions, dout, ids, B, T, C);
}
void CudaBackend::position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq,
                                        int Tk) {
  cuda::position_bias_forward(ctx_, out, table, buckets, H, Tq, Tk);
}
void CudaBackend::position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H, int Tq,
                                         int Tk) {
  cuda::position_bias_backward(ctx_, dtable, dout, buckets, H, Tq, Tk);
}

void CudaBackend::cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V,
                                int ignore_index, float grad_scale) {
  cuda::cross_entropy(ctx_, logits, losses, targets, N, V, ignore_index, grad_scale);
}

void CudaBackend::adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
                        const AdamWStep& step) {
  cuda::adamw(ctx_, params, grads, m, v, compute_params, step);
}

double CudaBackend::sum_of_squares(Tensor x) {
  const double sum = cuda::sum_of_squares(ctx_, x);
  raise_index_errors();
  return sum;
}

}  // namespace cuda
}  // namespace molt::kernels
