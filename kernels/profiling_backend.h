// A Backend that times every op of another, for `molt bench model --profile-ops`: where a
// training step's time goes, per op and shape, with no profiler installed.
//
// Each op runs between two synchronize() calls of the inner backend, and the steady_clock
// time between them is added to the op's key: its name, and for matmul and attention also
// its shape ("matmul_forward 16384x768x2304", "attention_backward B16 H12 Tq1024 Tk1024 D64
// causal"). The synchronizations remove any overlap between ops (and the host's lead over an
// asynchronous device), so a profiled step is slower than a plain one; the shares per op are
// what it is for. upload() and download() are timed too (they are part of a step);
// allocate(), free() and synchronize() only forward.
//
// FLOPs, where they are well defined, count as model/flops.h does, so per-op FLOP/s compare
// with MFU:
//   matmul_forward:     2·M·K·N
//   matmul_backward:    2·M·K·N for din, and again for dweight (each only when asked for)
//   matmul_gelu_*:      as matmul_* (dpre counts as din; the GELU adds no FLOPs)
//   attention_forward:  4·B·H·Tq·Tk·D  (q·kᵀ and probabilities·v; the full Tq×Tk square,
//                       causal or not, as model/flops.h counts it)
//   attention_backward: 2× the forward, 8·B·H·Tq·Tk·D
// The other ops have none.
//
// Everything else — names, dtypes, memory and its counters (memory_usage() is the inner
// backend's), streams — is the inner backend's, unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace molt::kernels {

// The calls under one key since construction or the last reset().
struct OpProfile {
  std::string key;
  int64_t calls = 0;
  double seconds = 0;
  std::optional<double> flops;  // over all calls; none where the op has no FLOP count
};

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(std::unique_ptr<Backend> inner);

  // While disabled, ops only forward: no synchronization, no clock, nothing recorded.
  // Enabled from construction.
  void set_enabled(bool enabled) { enabled_ = enabled; }
  // Forgets every recorded call (e.g. those of warm-up steps).
  void reset() { profiles_.clear(); }
  // One row per key, the longest total time first.
  std::vector<OpProfile> report() const;
  // The backend every call goes to.
  Backend& inner() { return *inner_; }

  std::string name() const override { return inner_->name(); }
  DType compute_dtype() const override { return inner_->compute_dtype(); }
  int cuda_device() const override { return inner_->cuda_device(); }
  std::optional<size_t> device_memory_free() const override { return inner_->device_memory_free(); }
  MemoryUsage memory_usage() const override { return inner_->memory_usage(); }
  void reset_peak_memory() override { inner_->reset_peak_memory(); }

  Tensor allocate(DType dtype, size_t count) override { return inner_->allocate(dtype, count); }
  void free(Tensor tensor) override { inner_->free(tensor); }
  void upload(Tensor dst, const void* host_src) override;
  void download(void* host_dst, Tensor src) override;
  void synchronize() override { inner_->synchronize(); }
  void* allocate_host(size_t bytes) override { return inner_->allocate_host(bytes); }
  void free_host(void* host) override { inner_->free_host(host); }
  void* stream_handle() const override { return inner_->stream_handle(); }

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
  // Runs `op` on the inner backend; when enabled, between two synchronizations, its time
  // recorded under the key and FLOPs that describe() returns (built only then, so a
  // disabled profiler costs no more than a call).
  template <class Describe, class Op>
  void measure(const Describe& describe, const Op& op);

  std::unique_ptr<Backend> inner_;
  bool enabled_ = true;
  std::map<std::string, OpProfile> profiles_;
};

}  // namespace molt::kernels
