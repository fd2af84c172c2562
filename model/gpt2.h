// GPT-2: the decoder-only family.
//
// Pre-LayerNorm blocks (eps 1e-5, with bias), learned absolute positions, GELU (tanh),
// biases on every linear, and the output projection tied to the token embedding:
//   x₀ = wte[ids] + wpe[t]
//   x' = x + c_proj(attn(c_attn(ln_1(x))))          (causal, or prefix-LM)
//   x'' = x' + mlp.c_proj(gelu(mlp.c_fc(ln_2(x'))))
//   logits = ln_f(x_L) · wteᵀ
// Forward and backward are written by hand against kernels::Backend; activations for a
// micro-batch shape are allocated once and reused (`plan`), and backward reuses one
// running residual-gradient buffer, relying on the backends' add-into-gradients rule.
// Under recomputation (LanguageModel::set_recompute) the blocks share one set of activation
// buffers and each keeps only its output.
//
// Parameter names follow Hugging Face's GPT2LMHeadModel. One difference in layout: molt
// stores every linear weight as [out, in] (as torch.nn.Linear); Hugging Face's Conv1D
// stores [in, out], so `molt export` transposes c_attn, c_proj and c_fc.
#pragma once

#include <memory>
#include <vector>

#include "kernels/backend.h"
#include "model/gpt2_config.h"
#include "model/flat_parameters.h"
#include "model/language_model.h"
#include "model/sampling.h"

namespace molt::model {

class GPT2 final : public LanguageModel {
 public:
  // Allocates params and grads on the backend; call initialize() or load params after.
  GPT2(const GPT2Config& config, kernels::Backend& backend);
  ~GPT2() override;
  GPT2(const GPT2&) = delete;
  GPT2& operator=(const GPT2&) = delete;

  const GPT2Config& config() const { return config_; }
  const TensorTable& table() const override { return table_; }
  kernels::Tensor params() override { return flat_->params; }
  kernels::Tensor grads() override { return flat_->grads; }
  kernels::Tensor compute_params() override { return flat_->compute; }

  void initialize(uint64_t seed) override;
  double forward_backward(const TokenBatch& batch, float grad_scale,
                          const GradsReadyHook& on_grads_ready) override;
  void reserve(int batch, int input_tokens, int /*target_tokens*/) override {
    plan(batch, input_tokens);
  }
  ParameterCounts parameter_counts() const override;
  double training_flops_per_example(int input_tokens, int target_tokens) const override;

  // Logits [B·T, V] of a forward pass (f32 on the host), for evaluation and tests.
  std::vector<float> logits(const TokenBatch& batch);

  // Continues `prompt` by up to max_new_tokens, one token at a time over a KV cache.
  // Stops early at stop_token (when >= 0) or when the context is full.
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int max_new_tokens,
                                const SamplingOptions& sampling, int32_t stop_token,
                                TokenSampler& sampler);

 private:
  struct Layer {
    kernels::Tensor ln1_w, ln1_b, qkv_w, qkv_b, attn_proj_w, attn_proj_b;
    kernels::Tensor ln2_w, ln2_b, fc_w, fc_b, fc_proj_w, fc_proj_b;
  };
  struct Weights {
    kernels::Tensor wte, wpe, lnf_w, lnf_b;
    std::vector<Layer> layers;
  };
  struct Activations;  // gpt2.cpp

  void build_table();
  Weights views(kernels::Tensor buffer) const;
  void plan(int batch, int tokens);
  void allocate_activations(Activations& a, int batch, int tokens);
  void forward(const TokenBatch& batch);
  // Block l from its input `residual` into acts_->layers[l] (forward, and under
  // recomputation again in backward).
  void forward_layer(int l, kernels::Tensor residual);
  void backward(const GradsReadyHook& on_grads_ready);
  kernels::AttentionShape self_attention_shape() const;

  GPT2Config config_;
  kernels::Backend& backend_;
  TensorTable table_;
  size_t layer_first_entry_ = 0;    // table index of h.0's first tensor
  size_t entries_per_layer_ = 0;
  std::unique_ptr<FlatParameters> flat_;
  Weights p_, g_;                   // views of compute params and grads
  std::unique_ptr<Activations> acts_;
};

}  // namespace molt::model
