#include "jobs/optimizer.h"

#include <algorithm>

#include "model/language_model.h"

namespace molt {

AdamW::AdamW(kernels::Backend& backend, const TensorTable& table, size_t shard_begin,
             size_t shard_end)
    : backend_(backend), shard_begin_(shard_begin), shard_end_(shard_end) {
  // Merge neighbouring tensors with the same decay rule into runs, clipped to the shard.
  for (const TensorEntry& entry : table) {
    size_t begin = std::max(entry.offset, shard_begin);
    size_t end = std::min(entry.offset + entry.count(), shard_end);
    if (begin >= end) continue;
    bool decay = model::LanguageModel::decays(entry);
    if (!runs_.empty() && runs_.back().end == begin && runs_.back().decay == decay) {
      runs_.back().end = end;
    } else {
      runs_.push_back({begin, end, decay});
    }
  }
  m_ = backend_.allocate(kernels::DType::kF32, shard_end - shard_begin);
  v_ = backend_.allocate(kernels::DType::kF32, shard_end - shard_begin);
}

AdamW::~AdamW() {
  backend_.free(m_);
  backend_.free(v_);
}

void AdamW::step(kernels::Tensor params, kernels::Tensor grads, kernels::Tensor compute_params,
                 const AdamWSettings& settings, float lr, float grad_scale, int64_t t) {
  const bool separate_compute = compute_params.data != params.data;
  for (const Run& run : runs_) {
    const size_t n = run.end - run.begin;
    kernels::AdamWStep step;
    step.lr = lr;
    step.beta1 = settings.beta1;
    step.beta2 = settings.beta2;
    step.eps = settings.eps;
    step.weight_decay = run.decay ? settings.weight_decay : 0.0f;
    step.grad_scale = grad_scale;
    step.t = t;
    backend_.adamw(params.slice(run.begin, n), grads.slice(run.begin, n),
                   m_.slice(run.begin - shard_begin_, n), v_.slice(run.begin - shard_begin_, n),
                   separate_compute ? compute_params.slice(run.begin, n) : kernels::Tensor{},
                   step);
  }
}

float clip_factor(double grad_norm, float max_norm) {
  if (max_norm <= 0.0f || grad_norm <= max_norm) return 1.0f;
  return static_cast<float>(max_norm / grad_norm);
}

}  // namespace molt
