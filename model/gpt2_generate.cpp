// GPT-2 generation over a KV cache.
//
// Each step feeds one token: its query attends to the keys and values of every earlier
// position, which are kept per layer in k/v caches of [n_ctx, C] so nothing is recomputed.
// The prompt goes through the same one-token path (prefill by stepping): prompts are
// short here, and one path means one thing to test against the full forward pass.
#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "model/buffer_set.h"
#include "model/gpt2.h"

namespace molt::model {

using kernels::AttentionMask;
using kernels::AttentionShape;
using kernels::DType;
using kernels::Tensor;

namespace {

// Buffers for one decoding step of one sequence, plus the per-layer caches.
struct DecodeState {
  BufferSet buffers;  // everything below
  Tensor id, x, h, qkv, atty, lse, proj, x2, fch, fch_gelu, logits, mean, rstd;
  std::vector<Tensor> k_cache, v_cache;

  explicit DecodeState(kernels::Backend& backend) : buffers(backend) {}
};

}  // namespace

std::vector<int32_t> GPT2::generate(const std::vector<int32_t>& prompt, int max_new_tokens,
                                    const SamplingOptions& sampling, int32_t stop_token,
                                    TokenSampler& sampler) {
  if (prompt.empty()) throw UserError("generation needs at least one prompt token");
  const int C = config_.d_model, F = config_.ff_dim(), V = config_.vocab_size;
  const float eps = config_.layernorm_eps;
  const DType act = backend_.compute_dtype();
  DecodeState s(backend_);
  auto alloc = [&](DType dtype, size_t n) { return s.buffers.allocate(dtype, n); };
  s.id = alloc(DType::kI32, 1);
  s.x = alloc(act, C), s.h = alloc(act, C), s.qkv = alloc(act, 3 * C), s.atty = alloc(act, C);
  s.lse = alloc(DType::kF32, config_.n_head), s.proj = alloc(act, C), s.x2 = alloc(act, C);
  s.fch = alloc(act, F), s.fch_gelu = alloc(act, F), s.logits = alloc(act, V);
  s.mean = alloc(DType::kF32, 1), s.rstd = alloc(DType::kF32, 1);
  for (int l = 0; l < config_.n_layer; ++l) {
    s.k_cache.push_back(alloc(act, static_cast<size_t>(config_.n_ctx) * C));
    s.v_cache.push_back(alloc(act, static_cast<size_t>(config_.n_ctx) * C));
  }

  AttentionShape shape;
  shape.batch = 1;
  shape.q_tokens = 1;
  shape.heads = config_.n_head;
  shape.head_dim = config_.head_dim();
  shape.q_row_stride = 3 * C;
  shape.kv_row_stride = C;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
  shape.mask = AttentionMask::kCausal;

  // Runs one token at `position` through the model; leaves its logits in s.logits.
  auto step = [&](int32_t token, int position) {
    if (token < 0 || token >= V) {
      throw UserError("token id " + std::to_string(token) + " is outside the vocabulary");
    }
    backend_.upload(s.id, &token);
    backend_.embedding_forward(s.x, s.id, p_.wte, p_.wpe.slice(size_t(position) * C, C), 1, 1, C);
    shape.kv_tokens = position + 1;
    for (int l = 0; l < config_.n_layer; ++l) {
      const Layer& w = p_.layers[l];
      backend_.layernorm_forward(s.h, s.mean, s.rstd, s.x, w.ln1_w, w.ln1_b, 1, C, eps);
      backend_.matmul_forward(s.qkv, s.h, w.qkv_w, w.qkv_b, 1, C, 3 * C);
      backend_.copy(s.k_cache[l].slice(size_t(position) * C, C), s.qkv.slice(C, C));
      backend_.copy(s.v_cache[l].slice(size_t(position) * C, C), s.qkv.slice(2 * C, C));
      backend_.attention_forward(s.atty, s.lse, s.qkv, s.k_cache[l], s.v_cache[l], Tensor{},
                                 Tensor{}, shape);
      backend_.matmul_forward(s.proj, s.atty, w.attn_proj_w, w.attn_proj_b, 1, C, C);
      backend_.add(s.x2, s.x, s.proj);
      backend_.layernorm_forward(s.h, s.mean, s.rstd, s.x2, w.ln2_w, w.ln2_b, 1, C, eps);
      backend_.matmul_forward(s.fch, s.h, w.fc_w, w.fc_b, 1, C, F);
      backend_.gelu_forward(s.fch_gelu, s.fch);
      backend_.matmul_forward(s.proj, s.fch_gelu, w.fc_proj_w, w.fc_proj_b, 1, F, C);
      backend_.add(s.x, s.x2, s.proj);
    }
    backend_.layernorm_forward(s.h, s.mean, s.rstd, s.x, p_.lnf_w, p_.lnf_b, 1, C, eps);
    backend_.matmul_forward(s.logits, s.h, p_.wte, Tensor{}, 1, C, V);
  };

  std::vector<int32_t> generated;
  std::vector<float> logits(V);
  int position = 0;
  for (int32_t token : prompt) {
    if (position >= config_.n_ctx) throw UserError("the prompt is longer than n_ctx");
    step(token, position++);
  }
  Tensor logits_f32_dev = act == DType::kF32 ? s.logits : alloc(DType::kF32, V);
  while (static_cast<int>(generated.size()) < max_new_tokens) {
    if (logits_f32_dev.data != s.logits.data) backend_.copy(logits_f32_dev, s.logits);
    backend_.download(logits.data(), logits_f32_dev);
    int32_t next = sampler.sample(logits.data(), V, sampling);
    generated.push_back(next);
    if (next == stop_token || position >= config_.n_ctx) break;
    step(next, position++);
  }
  return generated;
}

}  // namespace molt::model
