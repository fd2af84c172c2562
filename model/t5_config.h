// T5 v1.1 shape and its presets. Presets fix the shape; explicit keys in a job override them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace molt::model {

struct T5Config {
  int vocab_size = 0;
  int d_model = 768;
  int d_kv = 64;  // head dim; the attention's inner width is n_head·d_kv
  int n_head = 12;
  int d_ff = 2048;  // gated-GELU width (wi_0 and wi_1 are each [d_ff, d_model])
  int n_encoder_layer = 12;
  int n_decoder_layer = 12;
  int num_buckets = 32;    // relative position buckets
  int max_distance = 128;  // beyond this, every relative position shares the last bucket
  float rmsnorm_eps = 1e-6f;
  int32_t decoder_start_id = 0;  // T5 starts decoding from pad

  // The structure ladder (docs/structure/): four pieces of structure an encoder-decoder has
  // over a decoder-only model, each removable. All off is T5 v1.1.
  //  share_cross_attention: a decoder layer has no cross-attention sublayer of its own; its
  //    self-attention attends over the input's keys and values (made with its own k, v
  //    projections) followed by the target's, in one softmax, as a decoder-only layer does.
  //  share_encoder_decoder: one stack of parameters (blocks, position table, final norm)
  //    serves input and target. Needs n_encoder_layer == n_decoder_layer.
  //  layerwise_cross_attention: decoder layer i attends to the input as it enters encoder
  //    layer i (normalised by that layer's attention norm), not to the final encoder output.
  //    Needs equal depths. The encoder then runs only up to that norm of its last layer, so
  //    with separate stacks its last block has only that norm and it has no final norm.
  //  causal_input: the encoder's self-attention is causal (with causal position buckets).
  // All four on is a decoder-only model over [input; start; target[:-1]]; the first three
  // alone, a decoder-only prefix-LM (bidirectional over the input).
  bool share_cross_attention = false;
  bool share_encoder_decoder = false;
  bool layerwise_cross_attention = false;
  bool causal_input = false;

  int inner_dim() const { return n_head * d_kv; }
  bool standard() const {
    return !share_cross_attention && !share_encoder_decoder && !layerwise_cross_attention &&
           !causal_input;
  }
};

// The switches that are on, as the job file spells them ("" for T5 v1.1), e.g.
// "share_cross_attention+input_attention=causal".
std::string structure_name(const T5Config& config);
// The same, short, for plot legends and fit groups: "shared-xattn", "shared-stack",
// "layerwise", "causal-input" joined by '+' ("" for T5 v1.1).
std::string structure_label(const T5Config& config);

// "tiny" (test size), "small", "base", "large": the t5-v1_1 shapes (small has 6 heads, as
// published: 76,961,152 parameters with vocab 32128). Throws UserError naming the preset.
T5Config t5_preset(const std::string& name);
std::vector<std::string> t5_preset_names();

// Throws UserError when the shape is impossible.
void validate(const T5Config& config);

// T5's relative position bucket of key position j seen from query position i.
//   bidirectional: half the buckets for keys before the query, half for keys after;
//   causal: keys after the query all share bucket 0 (the mask hides them anyway).
// Within a half, distances n < max_exact = half/2 get their own bucket; larger ones are
// spaced logarithmically up to max_distance:
//   bucket = max_exact + ⌊ln(n/max_exact) / ln(max_distance/max_exact) · (half − max_exact)⌋
// computed in fp32 as the reference implementation does, so the integer boundaries agree.
int32_t relative_position_bucket(int query, int key, bool bidirectional, int num_buckets,
                                 int max_distance);

// Buckets for a [q_tokens, kv_tokens] score matrix, row-major, query i at position
// i + first_query (0 for full sequences; the step index when decoding over a cache).
std::vector<int32_t> relative_position_buckets(int q_tokens, int kv_tokens, int first_query,
                                               bool bidirectional, int num_buckets,
                                               int max_distance);

}  // namespace molt::model
