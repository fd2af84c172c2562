// AdamW over a model's flat parameter buffer, or over one rank's shard of it.
//
// The moments m and v cover [shard_begin, shard_end) of the flat buffer: the whole buffer
// when every rank keeps full optimizer state, one rank's slice when the optimizer is
// sharded (ZeRO-1). Weight decay follows the name table: matrices and embeddings decay,
// biases and norm gains do not (LanguageModel::decays), so one step is one backend AdamW
// call per contiguous run of decaying or non-decaying tensors inside the shard.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/tensor_table.h"

namespace molt {

struct AdamWSettings {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamW {
 public:
  AdamW(kernels::Backend& backend, const TensorTable& table, size_t shard_begin, size_t shard_end);
  ~AdamW();
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;

  // One update of params[shard] from grads[shard]. params, grads and compute_params are
  // the model's full buffers; grad_scale multiplies the gradients first (clipping).
  // `t` counts steps from 1.
  void step(kernels::Tensor params, kernels::Tensor grads, kernels::Tensor compute_params,
            const AdamWSettings& settings, float lr, float grad_scale, int64_t t);

  size_t shard_begin() const { return shard_begin_; }
  size_t shard_end() const { return shard_end_; }
  kernels::Tensor m() const { return m_; }  // [shard_end - shard_begin]
  kernels::Tensor v() const { return v_; }

 private:
  struct Run {
    size_t begin, end;  // absolute offsets in the flat buffer
    bool decay;
  };

  kernels::Backend& backend_;
  size_t shard_begin_, shard_end_;
  std::vector<Run> runs_;
  kernels::Tensor m_, v_;
};

// Gradient clipping factor: min(1, max_norm / norm); 1 when max_norm is 0 (off).
float clip_factor(double grad_norm, float max_norm);

}  // namespace molt
