#include "model/t5_config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "kernels/error.h"

namespace molt::model {
namespace {

struct Shape {
  int d_model, d_kv, n_head, d_ff, n_layer;
};

// The t5-v1_1 sizes (Hugging Face google/t5-v1_1-*), plus a shape that trains in seconds.
const std::map<std::string, Shape>& presets() {
  static const std::map<std::string, Shape> table = {
      {"tiny", {64, 16, 4, 128, 2}},
      {"small", {512, 64, 6, 1024, 8}},
      {"base", {768, 64, 12, 2048, 12}},
      {"large", {1024, 64, 16, 2816, 24}},
  };
  return table;
}

}  // namespace

namespace {

// The switches that are on, in ladder order, named from `names`, joined by '+'.
std::string join_switches(const T5Config& c, const std::array<const char*, 4>& names) {
  const bool on[4] = {c.share_cross_attention, c.share_encoder_decoder,
                      c.layerwise_cross_attention, c.causal_input};
  std::string joined;
  for (int i = 0; i < 4; ++i) {
    if (on[i]) joined += (joined.empty() ? "" : "+") + std::string(names[i]);
  }
  return joined;
}

}  // namespace

std::string structure_name(const T5Config& c) {
  return join_switches(c, {"share_cross_attention", "share_encoder_decoder",
                           "cross_attention_source=layerwise", "input_attention=causal"});
}

std::string structure_label(const T5Config& c) {
  return join_switches(c, {"shared-xattn", "shared-stack", "layerwise", "causal-input"});
}

T5Config t5_preset(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string known;
    for (const auto& n : t5_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw UserError("unknown encdec preset '" + name + "' (known: " + known + ")");
  }
  T5Config config;
  config.d_model = it->second.d_model;
  config.d_kv = it->second.d_kv;
  config.n_head = it->second.n_head;
  config.d_ff = it->second.d_ff;
  config.n_encoder_layer = config.n_decoder_layer = it->second.n_layer;
  return config;
}

std::vector<std::string> t5_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, shape] : presets()) names.push_back(name);
  return names;
}

void validate(const T5Config& c) {
  auto fail = [](const std::string& what) { throw UserError("model: " + what); };
  if (c.vocab_size <= 0) fail("vocab_size must be positive");
  if (c.d_model <= 0 || c.d_kv <= 0 || c.n_head <= 0 || c.d_ff <= 0)
    fail("d_model, d_kv, n_head and d_ff must be positive");
  if (c.n_encoder_layer <= 0 || c.n_decoder_layer <= 0)
    fail("n_layer and n_decoder_layer must be positive");
  if (c.num_buckets < 4 || c.num_buckets % 2 != 0 || c.max_distance <= c.num_buckets / 4)
    fail("relative position buckets need an even count >= 4 and max_distance > buckets/4");
  if ((c.share_encoder_decoder || c.layerwise_cross_attention) &&
      c.n_encoder_layer != c.n_decoder_layer) {
    fail(std::string(c.share_encoder_decoder ? "share_encoder_decoder"
                                             : "cross_attention_source = \"layerwise\"") +
         " needs as many decoder as encoder layers (n_decoder_layer " +
         std::to_string(c.n_decoder_layer) + " != n_layer " +
         std::to_string(c.n_encoder_layer) + ")");
  }
  if (c.decoder_start_id < 0 || c.decoder_start_id >= c.vocab_size)
    fail("the decoder start token must be inside the vocabulary");
}

int32_t relative_position_bucket(int query, int key, bool bidirectional, int num_buckets,
                                 int max_distance) {
  const int relative = key - query;
  int32_t bucket = 0;
  int half = num_buckets;
  int distance;
  if (bidirectional) {
    half = num_buckets / 2;
    if (relative > 0) bucket += half;
    distance = relative < 0 ? -relative : relative;
  } else {
    distance = relative < 0 ? -relative : 0;
  }
  const int max_exact = half / 2;
  if (distance < max_exact) return bucket + distance;
  // fp32 throughout, like the reference: ln(n/max_exact)/ln(max_distance/max_exact) lands
  // exactly on integers at n = 2·max_exact, 4·max_exact, ... in fp32.
  const float ratio = static_cast<float>(distance) / static_cast<float>(max_exact);
  const float span = static_cast<float>(std::log(double(max_distance) / double(max_exact)));
  const float scaled = std::log(ratio) / span * static_cast<float>(half - max_exact);
  const int large = max_exact + static_cast<int>(scaled);
  return bucket + std::min(large, half - 1);
}

std::vector<int32_t> relative_position_buckets(int q_tokens, int kv_tokens, int first_query,
                                               bool bidirectional, int num_buckets,
                                               int max_distance) {
  std::vector<int32_t> buckets(static_cast<size_t>(q_tokens) * kv_tokens);
  for (int i = 0; i < q_tokens; ++i) {
    for (int j = 0; j < kv_tokens; ++j) {
      buckets[size_t(i) * kv_tokens + j] =
          relative_position_bucket(first_query + i, j, bidirectional, num_buckets, max_distance);
    }
  }
  return buckets;
}

}  // namespace molt::model
