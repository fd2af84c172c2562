// The fp32 CPU implementation of kernels::Backend.
//
// Memory is ordinary host memory (64-byte aligned, so every buffer starts on a cache line
// and suits AVX-512 loads), upload/download are memcpy, and every op runs to completion
// before it returns, so synchronize() has nothing to wait for. Each op lives in its own
// family file (matmul.cpp, norms.cpp, attention.cpp, ...); this class only dispatches.
// Threading: OpenMP only, OpenBLAS pinned to one thread (gemm.cpp says why).
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

class CpuBackend final : public Backend {
 public:
  CpuBackend();

  std::string name() const override { return "cpu"; }
  DType compute_dtype() const override { return DType::kF32; }

  Tensor allocate(DType dtype, size_t count) override;
  void free(Tensor tensor) override;
  void upload(Tensor dst, const void* host_src) override;
  void download(void* host_dst, Tensor src) override;
  void synchronize() override {}

  void fill(Tensor x, float value) override;
  void copy(Tensor dst, Tensor src) override;
  void scale(Tensor x, float factor) override;
  void add(Tensor out, Tensor a, Tensor b) override;
  void accumulate(Tensor dst, Tensor src) override;

  void matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K,
                      int N) override;
  void matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                       Tensor weight, int M, int K, int N, Din din_mode) override;

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

  void cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V,
                     int ignore_index, float grad_scale) override;

  void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
             const AdamWStep& step) override;
  double sum_of_squares(Tensor x) override;
};

}  // namespace molt::kernels::cpu
