// The CUDA implementation of kernels::Backend.
//
// One backend drives one device through ONE stream: every op is enqueued on it in call
// order, so ops never need events between them and scratch memory is reused safely
// (device_context.h). Memory is cudaMalloc'ed and zero-filled on that stream; upload and
// download wait for the stream, so a host buffer may be reused the moment they return.
// Compute buffers are compute_dtype() (f32 or bf16); statistics, master weights,
// gradients, moments, losses, lse and the attention bias are f32 (cuda/checks.h), and all
// arithmetic accumulates in f32. Each op family lives in its own file; this class only
// owns the device state and dispatches.
// Errors: a failed CUDA or cuBLAS call throws std::runtime_error naming the call, file and
// line (cuda_check.h). A token id, bucket or target outside its table cannot be checked on
// the host (it lives on the device), so the kernel flags it in host-mapped memory and the
// next synchronising call (download, synchronize, sum_of_squares) throws std::logic_error,
// as the CPU backend's host-side check would have.
// The constructor makes `device` current on the calling thread and the ops assume it stays
// so: molt runs one rank, one thread of GPU work and one GPU per process.
// make_cuda_backend() (kernels/backend.h) is the way in; nothing outside kernels/ needs
// this header.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"
#include "kernels/cuda/matmul.h"

namespace molt::kernels::cuda {

class CudaBackend final : public Backend {
 public:
  // Throws UserError when `device` is not a visible CUDA device.
  CudaBackend(int device, DType compute_dtype);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  int cuda_device() const override { return device_; }
  std::optional<size_t> device_memory_free() const override;
  DType compute_dtype() const override { return compute_dtype_; }

  // The stream every op runs on, for a communicator that must order itself after them.
  cudaStream_t stream() const { return stream_; }

  Tensor allocate(DType dtype, size_t count) override;
  void free(Tensor tensor) override;
  void upload(Tensor dst, const void* host_src) override;
  void download(void* host_dst, Tensor src) override;
  void synchronize() override;
  void* allocate_host(size_t bytes) override;  // cudaHostAlloc: page-locked
  void free_host(void* host) override;
  void* stream_handle() const override { return stream_; }

  void fill(Tensor x, float value) override;
  void copy(Tensor dst, Tensor src) override;
  void scale(Tensor x, float factor) override;
  void add(Tensor out, Tensor a, Tensor b) override;
  void accumulate(Tensor dst, Tensor src) override;

  void matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K,
                      int N) override;
  void matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                       Tensor weight, int M, int K, int N, Din din_mode) override;
  void matmul_gelu_forward(Tensor out, Tensor pre, Tensor in, Tensor weight, Tensor bias, int M,
                           int K, int N) override;
  void matmul_gelu_backward(Tensor dpre, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                            Tensor weight, Tensor pre, Tensor scratch, int M, int K,
                            int N) override;

  void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in, Tensor weight,
                         Tensor bias, int N, int C, float eps) override;
  void layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                          Tensor weight, Tensor mean, Tensor rstd, int N, int C) override;
  void rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C,
                       float eps) override;
  void rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in, Tensor weight,
                        Tensor rstd, int N, int C) override;

  void gelu_forward(Tensor out, Tensor in) override;
  void gelu_backward(Tensor din, Tensor dout, Tensor in) override;
  void gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) override;
  void gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate,
                           Tensor linear) override;

  void attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                         Tensor prefix_lengths, const AttentionShape& shape) override;
  void attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout, Tensor out,
                          Tensor lse, Tensor q, Tensor k, Tensor v, Tensor bias,
                          Tensor prefix_lengths, const AttentionShape& shape) override;

  void embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B, int T,
                         int C) override;
  void embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids, int B, int T,
                          int C) override;
  void position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq,
                             int Tk) override;
  void position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H, int Tq,
                              int Tk) override;

  void cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V, int ignore_index,
                     float grad_scale) override;

  void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
             const AdamWStep& step) override;
  double sum_of_squares(Tensor x) override;

 private:
  void release() noexcept;
  // After the stream is idle: throws if a kernel flagged an index outside its table.
  void raise_index_errors();

  int device_;
  DType compute_dtype_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::unique_ptr<DeviceScratch> scratch_;
  std::unique_ptr<OnesVectors> ones_;
  std::unique_ptr<EpilogueGemmPlans> epilogue_gemm_;
  int* index_error_host_ = nullptr;  // host-mapped; kernels write it through ctx_.index_error
  DeviceContext ctx_;
};

}  // namespace molt::kernels::cuda
