// T5 v1.1: the encoder-decoder family.
//
// Pre-RMSNorm blocks (eps 1e-6, no bias, no mean subtraction), no linear biases, gated-GELU
// feed-forward, relative position bias instead of absolute positions, and no 1/√d scaling
// of attention scores:
//   encoder:  x₀ = shared[inputs]
//             x' = x + o(attn(q,k,v(rms(x)); bias_enc))                  (bidirectional)
//             x'' = x' + wo(gelu(wi_0·rms(x')) ⊙ wi_1·rms(x'))
//             e = rms_final(x_L)
//   decoder:  y₀ = shared[decoder_inputs]       decoder_inputs = [pad, targets[:-1]]
//             y' = y + o(attn(q,k,v(rms(y)); bias_dec))                  (causal)
//             y'' = y' + o(attn(q(rms(y')), k,v(e)))                     (cross, no bias)
//             y''' = y'' + FFN(rms(y''))
//             logits = rms_final(y_L) · lm_headᵀ                          (untied, unscaled)
// The position bias [H, T, T] of a stack is computed once per forward from the table in its
// block 0 and shared by all its layers, so its gradient is the sum over layers, folded
// into the table once after the last of them. Cross-attention reads the encoder output of
// the final norm; its gradient collects every decoder layer's K/V projection.
//
// Parameter names follow Hugging Face's T5ForConditionalGeneration, in its order. Hugging
// Face also lists encoder.embed_tokens and decoder.embed_tokens, which alias shared.weight;
// molt stores shared.weight once. q, k and v of a layer are adjacent in the flat buffer, so
// the [3·inner, d_model] concatenation is one GEMM (and k, v one for cross-attention).
#pragma once

#include <memory>
#include <vector>

#include "kernels/backend.h"
#include "model/flat_parameters.h"
#include "model/language_model.h"
#include "model/sampling.h"
#include "model/t5_config.h"

namespace molt::model {

class T5 final : public LanguageModel {
 public:
  // Allocates params and grads on the backend; call initialize() or load params after.
  T5(const T5Config& config, kernels::Backend& backend);
  ~T5() override;
  T5(const T5&) = delete;
  T5& operator=(const T5&) = delete;

  // The parameter table of a shape, without allocating it, and its entry ranges: block l of a
  // stack is entries [first[l], first[l+1]); first.back() is the stack's final norm. With
  // share_encoder_decoder the encoder's ranges are the decoder's; an encoder whose output
  // nothing reads (layerwise cross-attention) has encoder_final = kNoEntry.
  static constexpr size_t kNoEntry = static_cast<size_t>(-1);
  struct Layout {
    TensorTable table;
    std::vector<size_t> encoder_block_first, decoder_block_first;
    size_t encoder_final = 0, decoder_final = 0, lm_head = 0;
  };
  static Layout layout(const T5Config& config);
  static ParameterCounts count_parameters(const TensorTable& table);

  const T5Config& config() const { return config_; }
  const TensorTable& table() const override { return table_; }
  kernels::Tensor params() override { return flat_->params; }
  kernels::Tensor grads() override { return flat_->grads; }
  kernels::Tensor compute_params() override { return flat_->compute; }

  // T5 v1.1's scheme (initializer factor 1): q ~ N(0, (d_model·d_kv)^-½), k, v, wi_0,
  // wi_1 and the position tables ~ N(0, d_model^-½), o ~ N(0, (n_head·d_kv)^-½),
  // wo ~ N(0, d_ff^-½), shared ~ N(0, 1), norms 1. lm_head ~ N(0, d_model^-½) rather than
  // the reference's N(0, 1): the head is untied and its input is unit-RMS, so this starts
  // the logits at unit variance (loss ≈ ln V) instead of variance d_model.
  void initialize(uint64_t seed) override;
  // The batch needs inputs [B, input_tokens], decoder_inputs and targets [B, target_tokens];
  // prefix_lengths must be empty (an encoder-decoder splits input from target by stack).
  double forward_backward(const TokenBatch& batch, float grad_scale,
                          const GradsReadyHook& on_grads_ready) override;
  void reserve(int batch, int input_tokens, int target_tokens) override {
    plan(batch, input_tokens, target_tokens);
  }
  // total: every parameter. non_embedding (Kaplan's N): without shared.weight, lm_head and
  // the two relative position tables (the family's position parameters, as GPT-2's wpe).
  ParameterCounts parameter_counts() const override;
  // Encoder over input_tokens, decoder over target_tokens, cross-attention K/V projections
  // over the encoder tokens once per decoder layer (model/flops.h).
  double training_flops_per_example(int input_tokens, int target_tokens) const override;

  // Logits [B·target_tokens, V] of a forward pass (f32 on the host), for evaluation and tests.
  std::vector<float> logits(const TokenBatch& batch);

  // Encodes `input` once, then decodes from the start token one token at a time over a KV
  // cache for self-attention and K/V of the encoder output computed once per layer. Returns
  // up to max_new_tokens tokens (the start token not included); stops after stop_token.
  std::vector<int32_t> generate(const std::vector<int32_t>& input, int max_new_tokens,
                                const SamplingOptions& sampling, int32_t stop_token,
                                TokenSampler& sampler);

 private:
  struct Attention {
    kernels::Tensor qkv;  // q, k, v stacked: [3·inner, C] (self) — or [inner, C] q (cross)
    kernels::Tensor kv;   // cross only: k, v stacked [2·inner, C]
    kernels::Tensor o;    // [C, inner]
  };
  struct FeedForward {
    kernels::Tensor wi_0, wi_1, wo;
  };
  struct Block {
    Attention self, cross;
    kernels::Tensor self_norm, cross_norm, ff_norm, position_table;  // table: block 0 only
    FeedForward ff;
  };
  struct Weights {
    kernels::Tensor shared, encoder_final, decoder_final, lm_head;
    std::vector<Block> encoder, decoder;
  };
  struct Activations;  // t5.cpp
  struct Stack;        // t5.cpp

  Weights views(kernels::Tensor buffer) const;
  // Throws UserError for a token outside the vocabulary (logic_error for a bad shape).
  void check_batch_ids(const TokenBatch& batch) const;
  void plan(int batch, int input_tokens, int target_tokens);
  void allocate_activations(Activations& a, int batch, int input_tokens, int target_tokens);
  void forward(const TokenBatch& batch);
  // Runs one stack forward (the decoder reads the encoder's output, so the encoder first).
  void forward_stack(Stack& s);
  // Layer l of a stack from its input into s.layers[l] (forward, and under recomputation
  // again in backward).
  void forward_layer(Stack& s, int l);
  // Runs the encoder alone over one sequence; returns its output [Te, C] (valid until the
  // next forward).
  kernels::Tensor encode_only(const std::vector<int32_t>& input);
  void backward(const GradsReadyHook& on_grads_ready);
  void backward_stack(Stack& s, const GradsReadyHook& on_grads_ready, bool report);
  // What decoder layer l attends to of the input [B·Te, C] — the encoder's final output, or
  // (layerwise) the normalised input of encoder layer l — and where its gradient collects.
  kernels::Tensor source(int l) const;
  kernels::Tensor dsource(int l) const;
  kernels::AttentionShape self_attention_shape(const Stack& s) const;
  // Generation for the structure variants: the full forward pass once per new token.
  std::vector<int32_t> generate_by_recompute(const std::vector<int32_t>& input,
                                             int max_new_tokens, const SamplingOptions& sampling,
                                             int32_t stop_token, TokenSampler& sampler);
  kernels::AttentionShape attention_shape(int batch, int q_tokens, int kv_tokens, int q_stride,
                                          int kv_stride, kernels::AttentionMask mask) const;

  T5Config config_;
  kernels::Backend& backend_;
  TensorTable table_;
  // Table entries [first, end) of each block, and of the parts outside the blocks.
  std::vector<size_t> encoder_block_first_, decoder_block_first_;
  size_t encoder_final_entry_ = 0, decoder_final_entry_ = 0, lm_head_entry_ = 0;
  std::unique_ptr<FlatParameters> flat_;
  Weights p_, g_;  // views of compute params and grads
  std::unique_ptr<Activations> acts_;
};

}  // namespace molt::model
