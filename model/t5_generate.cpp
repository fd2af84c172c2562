// T5 generation: encode once, then decode one token at a time.
//
// The encoder runs over the whole input as in training. Each decoder layer's cross-attention
// K/V of the encoder output is computed once ([Te, 2·inner] per layer); self-attention keeps
// a K/V cache per layer, so a step costs one token's work. The causal position bias of a
// step is the row of query position p over keys 0..p, from the decoder's table.
#include <vector>

#include "kernels/error.h"
#include "model/buffer_set.h"
#include "model/t5.h"

namespace molt::model {

using kernels::AttentionMask;
using kernels::AttentionShape;
using kernels::DType;
using kernels::Tensor;

namespace {

// Buffers for one decoding step of one sequence, and the caches.
struct DecodeState {
  BufferSet buffers;  // everything below
  Tensor id, x, h, qkv, att, lse, proj, q, gate, linear, gated, logits, rstd, buckets, bias;
  std::vector<Tensor> k_cache, v_cache, cross_kv;

  explicit DecodeState(kernels::Backend& backend) : buffers(backend) {}
};

}  // namespace

std::vector<int32_t> T5::generate(const std::vector<int32_t>& input, int max_new_tokens,
                                  const SamplingOptions& sampling, int32_t stop_token,
                                  TokenSampler& sampler) {
  if (input.empty()) throw UserError("generation needs at least one input token");
  if (max_new_tokens <= 0) return {};
  if (!config_.standard()) {
    return generate_by_recompute(input, max_new_tokens, sampling, stop_token, sampler);
  }
  const int C = config_.d_model, I = config_.inner_dim(), F = config_.d_ff;
  const int V = config_.vocab_size, H = config_.n_head, Te = static_cast<int>(input.size());
  const int max_len = max_new_tokens;  // decoder positions: the start token + all but the last
  const float eps = config_.rmsnorm_eps;
  const DType act = backend_.compute_dtype();

  const Tensor encoded = encode_only(input);

  DecodeState s(backend_);
  auto alloc = [&](DType dtype, size_t n) { return s.buffers.allocate(dtype, n); };
  s.id = alloc(DType::kI32, 1);
  s.x = alloc(act, C), s.h = alloc(act, C), s.qkv = alloc(act, 3 * I), s.att = alloc(act, I);
  s.lse = alloc(DType::kF32, H), s.proj = alloc(act, C), s.q = alloc(act, I);
  s.gate = alloc(act, F), s.linear = alloc(act, F), s.gated = alloc(act, F);
  s.logits = alloc(act, V), s.rstd = alloc(DType::kF32, 1);
  s.buckets = alloc(DType::kI32, max_len), s.bias = alloc(DType::kF32, size_t(H) * max_len);
  for (int l = 0; l < config_.n_decoder_layer; ++l) {
    const Block& w = p_.decoder[l];
    s.k_cache.push_back(alloc(act, size_t(max_len) * I));
    s.v_cache.push_back(alloc(act, size_t(max_len) * I));
    s.cross_kv.push_back(alloc(act, size_t(Te) * 2 * I));
    backend_.matmul_forward(s.cross_kv[l], encoded, w.cross.kv, Tensor{}, Te, C, 2 * I);
  }
  AttentionShape self_shape = attention_shape(1, 1, 1, 3 * I, I, AttentionMask::kCausal);
  const AttentionShape cross_shape =
      attention_shape(1, 1, Te, I, 2 * I, AttentionMask::kBidirectional);

  // Runs the token at decoder position p; leaves its logits in s.logits.
  auto step = [&](int32_t token, int p) {
    backend_.upload(s.id, &token);
    backend_.embedding_forward(s.x, s.id, p_.shared, Tensor{}, 1, 1, C);
    std::vector<int32_t> buckets =
        relative_position_buckets(1, p + 1, p, false, config_.num_buckets, config_.max_distance);
    Tensor step_buckets = s.buckets.slice(0, p + 1), bias = s.bias.slice(0, size_t(H) * (p + 1));
    backend_.upload(step_buckets, buckets.data());
    backend_.position_bias_forward(bias, p_.decoder[0].position_table, step_buckets, H, 1, p + 1);
    self_shape.kv_tokens = p + 1;
    for (int l = 0; l < config_.n_decoder_layer; ++l) {
      const Block& w = p_.decoder[l];
      backend_.rmsnorm_forward(s.h, s.rstd, s.x, w.self_norm, 1, C, eps);
      backend_.matmul_forward(s.qkv, s.h, w.self.qkv, Tensor{}, 1, C, 3 * I);
      backend_.copy(s.k_cache[l].slice(size_t(p) * I, I), s.qkv.slice(I, I));
      backend_.copy(s.v_cache[l].slice(size_t(p) * I, I), s.qkv.slice(2 * I, I));
      backend_.attention_forward(s.att, s.lse, s.qkv, s.k_cache[l], s.v_cache[l], bias, Tensor{},
                                 self_shape);
      backend_.matmul_forward(s.proj, s.att, w.self.o, Tensor{}, 1, I, C);
      backend_.accumulate(s.x, s.proj);
      backend_.rmsnorm_forward(s.h, s.rstd, s.x, w.cross_norm, 1, C, eps);
      backend_.matmul_forward(s.q, s.h, w.cross.qkv, Tensor{}, 1, C, I);
      backend_.attention_forward(s.att, s.lse, s.q, s.cross_kv[l],
                                 s.cross_kv[l].slice(I, s.cross_kv[l].count - I), Tensor{},
                                 Tensor{}, cross_shape);
      backend_.matmul_forward(s.proj, s.att, w.cross.o, Tensor{}, 1, I, C);
      backend_.accumulate(s.x, s.proj);
      backend_.rmsnorm_forward(s.h, s.rstd, s.x, w.ff_norm, 1, C, eps);
      backend_.matmul_forward(s.gate, s.h, w.ff.wi_0, Tensor{}, 1, C, F);
      backend_.matmul_forward(s.linear, s.h, w.ff.wi_1, Tensor{}, 1, C, F);
      backend_.gated_gelu_forward(s.gated, s.gate, s.linear);
      backend_.matmul_forward(s.proj, s.gated, w.ff.wo, Tensor{}, 1, F, C);
      backend_.accumulate(s.x, s.proj);
    }
    backend_.rmsnorm_forward(s.h, s.rstd, s.x, p_.decoder_final, 1, C, eps);
    backend_.matmul_forward(s.logits, s.h, p_.lm_head, Tensor{}, 1, C, V);
  };

  std::vector<int32_t> generated;
  std::vector<float> logits(V);
  Tensor logits_f32 = act == DType::kF32 ? s.logits : alloc(DType::kF32, V);
  step(config_.decoder_start_id, 0);
  while (true) {
    if (logits_f32.data != s.logits.data) backend_.copy(logits_f32, s.logits);
    backend_.download(logits.data(), logits_f32);
    const int32_t next = sampler.sample(logits.data(), V, sampling);
    generated.push_back(next);
    const int position = static_cast<int>(generated.size());
    if (next == stop_token || position >= max_len) break;
    step(next, position);
  }
  return generated;
}

std::vector<int32_t> T5::generate_by_recompute(const std::vector<int32_t>& input,
                                              int max_new_tokens,
                                              const SamplingOptions& sampling,
                                              int32_t stop_token, TokenSampler& sampler) {
  // Step n runs decoder inputs [start, generated...] (n + 1 positions) and samples from the
  // last row: O(n²) work in all, and no cache to get wrong for the variants.
  std::vector<int32_t> generated;
  TokenBatch batch;
  batch.batch = 1, batch.input_tokens = static_cast<int>(input.size());
  batch.inputs = input;
  batch.decoder_inputs = {config_.decoder_start_id};
  const int V = config_.vocab_size;
  while (true) {
    batch.target_tokens = static_cast<int>(batch.decoder_inputs.size());
    batch.targets.assign(batch.decoder_inputs.size(), kIgnoreIndex);
    std::vector<float> logits = this->logits(batch);
    const int32_t next =
        sampler.sample(logits.data() + size_t(batch.target_tokens - 1) * V, V, sampling);
    generated.push_back(next);
    if (next == stop_token || static_cast<int>(generated.size()) >= max_new_tokens) break;
    batch.decoder_inputs.push_back(next);
  }
  return generated;
}

}  // namespace molt::model
