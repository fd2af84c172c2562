// The contract between a model family and the trainer.
//
// A model owns four flat f32 buffers in the backend's memory — params (master weights),
// grads, and (owned by the trainer) the AdamW moments — described by one TensorTable with
// Hugging Face names. Checkpoints, the optimizer and gradient all-reduce each see one
// buffer; only the model knows what the offsets mean.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/backend.h"
#include "kernels/tensor_table.h"

namespace molt::model {

// Targets equal to this take no part in the loss (prefix positions, padding).
constexpr int32_t kIgnoreIndex = -1;

// One micro-batch of token ids on the host, already shaped for the model's family.
struct TokenBatch {
  int batch = 0;          // B
  int input_tokens = 0;   // decoder: T; encdec: encoder length
  int target_tokens = 0;  // decoder: T; encdec: decoder length
  std::vector<int32_t> inputs;          // [B, input_tokens]
  std::vector<int32_t> decoder_inputs;  // encdec only: [B, target_tokens]
  std::vector<int32_t> targets;         // [B, target_tokens], kIgnoreIndex where no loss
  std::vector<int32_t> prefix_lengths;  // [B]; empty unless the objective is prefix-LM

  // Targets that count in the loss.
  int64_t counted_targets() const;
};

struct ParameterCounts {
  int64_t total = 0;
  int64_t non_embedding = 0;  // excludes token and position embeddings (Kaplan's N)
};

// Called during backward each time a range [begin, end) of the flat gradient buffer holds
// its final value for this backward pass, so data parallelism can start reducing it.
using GradsReadyHook = std::function<void(size_t begin, size_t end)>;

// Tells `hook` that the tensors table[first_entry, end_entry) — contiguous in the flat
// buffer — hold their final gradients. Does nothing without a hook.
void report_grads_ready(const GradsReadyHook& hook, const TensorTable& table, size_t first_entry,
                        size_t end_entry);

// A buffer of any float dtype, as f32 on the host (converted on the device when needed).
std::vector<float> download_as_f32(kernels::Backend& backend, kernels::Tensor tensor);

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  virtual const TensorTable& table() const = 0;
  virtual kernels::Tensor params() = 0;          // f32 master weights
  virtual kernels::Tensor grads() = 0;           // f32, same layout
  virtual kernels::Tensor compute_params() = 0;  // compute dtype; aliases params() on fp32

  // Deterministic initialisation from a seed (the family's published scheme).
  virtual void initialize(uint64_t seed) = 0;

  // Forward pass and loss on one micro-batch. With grad_scale != 0 it also runs backward,
  // adding grad_scale · ∂(Σ token losses)/∂θ into grads(). Returns Σ token losses (nats)
  // over counted targets, so the caller can form the mean over a whole global batch.
  virtual double forward_backward(const TokenBatch& batch, float grad_scale,
                                  const GradsReadyHook& on_grads_ready) = 0;

  virtual ParameterCounts parameter_counts() const = 0;

  // Activation recomputation. Off, a forward pass keeps every block's activations for
  // backward. On, it keeps each block's output (the next block's input) and one set of
  // buffers for the rest; backward runs each block's forward again, from its input, just
  // before that block's backward. The numbers are the same (the same ops on the same
  // inputs); the cost is one more forward pass of the blocks, about a third more compute.
  void set_recompute(bool on) { recompute_ = on; }
  // Allocates now what a training step on micro-batches of this shape holds (the first
  // forward pass would do it), so its memory can be counted before any step runs.
  virtual void reserve(int batch, int input_tokens, int target_tokens) = 0;
  bool recompute() const { return recompute_; }

  // Training FLOPs (forward + backward) for one example of the given lengths.
  virtual double training_flops_per_example(int input_tokens, int target_tokens) const = 0;

  // Parameters that get weight decay: matrices and embeddings, not biases or norm gains.
  static bool decays(const TensorEntry& entry) { return entry.shape.size() >= 2; }

 protected:
  bool recompute_ = false;  // families re-plan their activations when this changes
};

}  // namespace molt::model
