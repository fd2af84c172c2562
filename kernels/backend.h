// kernels::Backend — every numeric operation the models need, on raw buffers.
//
// model/ is written once against this interface; cpu/ (fp32, OpenBLAS, OpenMP) and cuda/
// (bf16 compute with fp32 accumulation) implement it. Nothing here knows about layers or
// names: an op sees pointers, sizes and a few scalars.
//
// Conventions, the same for every op:
//  * Buffers are Tensors: a pointer in the backend's memory, a dtype and an element count.
//    "Compute" buffers (activations, the compute copy of the weights) have the dtype
//    compute_dtype(): f32 on the CPU, bf16 or f32 on CUDA. Master weights, gradients,
//    AdamW moments, losses and normalisation statistics are always f32. Token ids are i32.
//  * Forward ops overwrite (=) their outputs.
//  * Backward ops ADD (+=) into every gradient they produce, activations and parameters
//    alike. The caller zeroes a gradient buffer before its first contribution. One rule for
//    all ops keeps residual streams, tied embeddings, cross-attention sources and gradient
//    accumulation correct without special cases.
//  * Matrices are row-major. A linear layer's weight is [out, in] (as torch.nn.Linear), so
//    y = x·Wᵀ + b.
//  * Ops are asynchronous with respect to the host where the device allows; synchronize()
//    waits. Anything that returns a host value (a norm, a download) synchronizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace molt::kernels {

enum class DType : uint8_t { kF32, kBF16, kI32 };

size_t dtype_bytes(DType dtype);
const char* dtype_name(DType dtype);

// A view of `count` elements of `dtype` in the backend's memory. Copying a Tensor copies
// the view, not the data; ownership stays with whoever allocated it (Backend::allocate).
struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  size_t count = 0;

  // Elements [offset, offset + n) of this view.
  Tensor slice(size_t offset, size_t n) const;
  bool empty() const { return data == nullptr || count == 0; }
  size_t bytes() const { return count * dtype_bytes(dtype); }

  // Typed pointers; they check the dtype (a mismatch is a programmer error).
  float* f32() const;
  int32_t* i32() const;
};

// Which keys a query may see in attention.
//  kBidirectional: every key.
//  kCausal: key j is visible to query i iff j <= i + (Tk - Tq). With Tq == Tk this is the
//           usual lower triangle; with Tq == 1 it is one decoding step over a KV cache.
//  kPrefix: as kCausal, and in addition every key j < prefix_lengths[b] is visible (a
//           prefix-LM: bidirectional over the input prefix, causal over the target).
enum class AttentionMask : uint8_t { kBidirectional, kCausal, kPrefix };

// Shapes and layout for one multi-head attention call.
// q is [B, Tq, H·D] with `q_row_stride` elements between consecutive tokens; k and v are
// [B, Tk, H·D] with `kv_row_stride`. Strides let GPT-2's fused qkv buffer [B, T, 3·C] be
// used in place: q = qkv, k = qkv + C, v = qkv + 2C, all with stride 3C.
// out is [B, Tq, H·D], densely packed.
struct AttentionShape {
  int batch = 0;        // B
  int q_tokens = 0;     // Tq
  int kv_tokens = 0;    // Tk
  int heads = 0;        // H
  int head_dim = 0;     // D
  int q_row_stride = 0;
  int kv_row_stride = 0;
  float scale = 1.0f;   // scores = scale · q·kᵀ (+ bias); GPT-2: 1/√D, T5: 1
  AttentionMask mask = AttentionMask::kCausal;
};

// AdamW hyper-parameters for one step over one contiguous range of parameters.
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  with g = grad_scale · grad
//   p ← p − lr·( (m/(1−β1^t)) / (√(v/(1−β2^t)) + eps) + weight_decay·p )
struct AdamWStep {
  float lr = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  float grad_scale = 1.0f;  // gradient clipping folds in here: min(1, clip / ‖g‖)
  int64_t t = 1;            // step number, from 1, for bias correction
};

// How a backward op treats the activation gradient it computes: writes it, or adds it to
// what the buffer holds (a gradient with several contributions, as T5's wi_0 and wi_1 give
// their common input).
enum class Din { kWrite, kAdd };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual DType compute_dtype() const = 0;
  // The CUDA device ordinal this backend computes on; -1 for the CPU.
  virtual int cuda_device() const { return -1; }
  // Device memory free now, in bytes, as the driver reports it; nullopt where there is no
  // separate device memory to run out of (the CPU).
  virtual std::optional<size_t> device_memory_free() const { return std::nullopt; }

  // ---- memory -------------------------------------------------------------------------
  // Allocations are zero-filled. free() takes what allocate() returned.
  virtual Tensor allocate(DType dtype, size_t count) = 0;
  virtual void free(Tensor tensor) = 0;
  virtual void upload(Tensor dst, const void* host_src) = 0;    // dst.bytes() from host
  virtual void download(void* host_dst, Tensor src) = 0;        // src.bytes() to host
  virtual void synchronize() = 0;
  // Host memory the device copies to and from fastest (page-locked on CUDA, plain heap on
  // the CPU), for staging device buffers through host memory (dist/'s MPI path).
  virtual void* allocate_host(size_t bytes);
  virtual void free_host(void* host);
  // The queue every op runs on, for a communicator that must order itself after them
  // (a cudaStream_t on CUDA); nullptr on the CPU, where ops finish before they return.
  virtual void* stream_handle() const { return nullptr; }

  // Bytes held in buffers from allocate(): now, and the most at once since construction or
  // the last reset_peak_memory(). This is what molt asked for (Tensor::bytes()), and what
  // `molt memory` counts ahead. own_bytes is, apart, what the backend holds for itself now
  // (the CUDA backend's scratch, ones vectors and cuBLASLt workspace; it grows to the
  // largest request and stays). Neither counts allocator rounding, cuBLAS's own workspace,
  // the CUDA context or host memory.
  // Allocation happens on one thread (the trainer's), so these are plain counters. They are
  // virtual only so that a backend wrapping another (ProfilingBackend) reports the other's.
  struct MemoryUsage {
    size_t current_bytes = 0;
    size_t peak_bytes = 0;
    size_t own_bytes = 0;
  };
  virtual MemoryUsage memory_usage() const { return memory_; }
  virtual void reset_peak_memory() { memory_.peak_bytes = memory_.current_bytes; }

  // ---- elementwise --------------------------------------------------------------------
  virtual void fill(Tensor x, float value) = 0;                       // x = value
  virtual void copy(Tensor dst, Tensor src) = 0;                      // converts dtype
  virtual void scale(Tensor x, float factor) = 0;                     // x *= factor
  virtual void add(Tensor out, Tensor a, Tensor b) = 0;               // out = a + b
  virtual void accumulate(Tensor dst, Tensor src) = 0;                // dst += src

  // ---- linear layers ------------------------------------------------------------------
  // out[M,N] = in[M,K] · weight[N,K]ᵀ + bias[N]   (bias may be empty)
  virtual void matmul_forward(Tensor out, Tensor in, Tensor weight, Tensor bias, int M, int K,
                              int N) = 0;
  // din[M,K] = dout·weight (Din::kWrite) or += (Din::kAdd);  dweight[N,K] += doutᵀ·in;
  // dbias[N] += Σ_rows dout. Any of din, dweight, dbias may be empty to skip it. Parameter
  // gradients always add (micro-batches accumulate into them); an activation gradient is
  // written where it has one contribution, which spares a zero fill and the GEMM a read.
  virtual void matmul_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout, Tensor in,
                               Tensor weight, int M, int K, int N, Din din_mode) = 0;
  // A linear layer followed by GELU (GPT-2's c_fc): pre[M,N] = in·weightᵀ + bias and
  // out[M,N] = gelu(pre); pre is kept for backward. A backend may fuse the GELU into the GEMM;
  // the default runs matmul_forward into pre, then gelu_forward.
  virtual void matmul_gelu_forward(Tensor out, Tensor pre, Tensor in, Tensor weight, Tensor bias,
                                   int M, int K, int N);
  // The backward of a linear layer whose input was gelu(pre) (GPT-2's c_proj of the MLP), on
  // through the GELU: dpre[M,K] = gelu'(pre) ⊙ (dout·weight), written, not accumulated;
  // dweight[N,K] += doutᵀ·in and dbias[N] += Σ_rows dout as in matmul_backward (either may
  // be empty). in is gelu(pre). scratch [M,K] (compute dtype) holds dout·weight where the
  // backend does not fuse the GELU gradient into the GEMM; its contents are left undefined.
  virtual void matmul_gelu_backward(Tensor dpre, Tensor dweight, Tensor dbias, Tensor dout,
                                    Tensor in, Tensor weight, Tensor pre, Tensor scratch, int M,
                                    int K, int N);

  // ---- normalisation ------------------------------------------------------------------
  // LayerNorm over the last dim C of in[N,C]: out = (x−μ)·rstd·weight + bias,
  // rstd = 1/√(var + eps). mean[N] and rstd[N] (f32) are saved for backward.
  virtual void layernorm_forward(Tensor out, Tensor mean, Tensor rstd, Tensor in, Tensor weight,
                                 Tensor bias, int N, int C, float eps) = 0;
  virtual void layernorm_backward(Tensor din, Tensor dweight, Tensor dbias, Tensor dout,
                                  Tensor in, Tensor weight, Tensor mean, Tensor rstd, int N,
                                  int C) = 0;
  // RMSNorm (T5): out = x·rstd·weight, rstd = 1/√(mean(x²) + eps). rstd[N] saved.
  virtual void rmsnorm_forward(Tensor out, Tensor rstd, Tensor in, Tensor weight, int N, int C,
                               float eps) = 0;
  virtual void rmsnorm_backward(Tensor din, Tensor dweight, Tensor dout, Tensor in, Tensor weight,
                                Tensor rstd, int N, int C) = 0;

  // ---- activations --------------------------------------------------------------------
  // GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
  virtual void gelu_forward(Tensor out, Tensor in) = 0;
  virtual void gelu_backward(Tensor din, Tensor dout, Tensor in) = 0;
  // Gated GELU (T5 v1.1 FFN): out = gelu(gate) ⊙ linear.
  virtual void gated_gelu_forward(Tensor out, Tensor gate, Tensor linear) = 0;
  virtual void gated_gelu_backward(Tensor dgate, Tensor dlinear, Tensor dout, Tensor gate,
                                   Tensor linear) = 0;

  // ---- attention ----------------------------------------------------------------------
  // out = softmax(scale·q·kᵀ + bias + mask)·v per batch and head.
  // bias (optional) is f32 [H, Tq, Tk], shared by the batch (T5's relative position bias).
  // prefix_lengths (i32 [B]) is read only for AttentionMask::kPrefix.
  // lse (f32 [B, H, Tq]) receives each row's log-sum-exp, saved for backward so no
  // Tq×Tk matrix has to be kept.
  virtual void attention_forward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                 Tensor bias, Tensor prefix_lengths,
                                 const AttentionShape& shape) = 0;
  // dq, dk, dv have the same layout (and strides) as q, k, v. dbias (f32 [H,Tq,Tk]) may be
  // empty. All are accumulated into.
  virtual void attention_backward(Tensor dq, Tensor dk, Tensor dv, Tensor dbias, Tensor dout,
                                  Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v,
                                  Tensor bias, Tensor prefix_lengths,
                                  const AttentionShape& shape) = 0;

  // ---- embeddings ---------------------------------------------------------------------
  // out[B·T, C] = table[ids] (+ positions[t] when positions is not empty; t = row % T).
  virtual void embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B,
                                 int T, int C) = 0;
  // dtable[ids] += dout; dpositions[t] += dout (when not empty).
  virtual void embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids,
                                  int B, int T, int C) = 0;
  // out[H, Tq, Tk] = table[buckets[i·Tk + j], h] (T5 relative position bias; table is
  // [num_buckets, H], buckets i32 [Tq·Tk] computed on the host once per shape).
  virtual void position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq,
                                     int Tk) = 0;
  virtual void position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H, int Tq,
                                      int Tk) = 0;

  // ---- loss ---------------------------------------------------------------------------
  // Softmax cross-entropy over logits[N, V] with i32 targets[N]; rows whose target is
  // ignore_index get loss 0 and no gradient. losses[N] (f32) receives each row's loss.
  // When grad_scale != 0 the logits are overwritten IN PLACE with their gradient
  //   dlogits = grad_scale · (softmax(logits) − onehot(target)),
  // so no second [N, V] buffer is needed. grad_scale is 1/(targets counted in the mean).
  virtual void cross_entropy(Tensor logits, Tensor losses, Tensor targets, int N, int V,
                             int ignore_index, float grad_scale) = 0;

  // ---- optimizer ----------------------------------------------------------------------
  // One AdamW step on params (f32 master), grads, m, v — all the same count. When
  // compute_params is not empty it receives the updated params in compute_dtype().
  virtual void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, Tensor compute_params,
                     const AdamWStep& step) = 0;
  // Σ x² over an f32 buffer, returned to the host (accumulated in double on the CPU).
  virtual double sum_of_squares(Tensor x) = 0;

 protected:
  // Every backend's allocate() and free() report the buffers they hand out and take back.
  void count_allocation(const Tensor& tensor);
  void count_free(const Tensor& tensor);
  // The device memory a backend holds for itself (MemoryUsage::own_bytes).
  void count_own_bytes(size_t allocated, size_t freed);

 private:
  MemoryUsage memory_;
};

// The fp32 CPU backend (OpenBLAS GEMM, OpenMP threads).
std::unique_ptr<Backend> make_cpu_backend();

#ifdef MOLT_HAVE_CUDA
// The CUDA backend on `device` (kernels/cuda/): compute buffers in `compute_dtype` (kF32 or
// kBF16), f32 accumulation. Only in builds with nvcc. Throws UserError when the device
// does not exist (no GPU, or an index past the visible devices).
std::unique_ptr<Backend> make_cuda_backend(int device, DType compute_dtype);
#endif

}  // namespace molt::kernels
