// GPT-2 shape and its presets. Presets fix the shape; explicit keys in a job override them.
#pragma once

#include <string>
#include <vector>

namespace molt::model {

struct GPT2Config {
  int vocab_size = 0;
  int n_ctx = 1024;   // learned positions: the longest sequence the model can see
  int d_model = 768;
  int n_layer = 12;
  int n_head = 12;
  int d_ff = 0;       // 0 means 4·d_model
  float layernorm_eps = 1e-5f;

  int ff_dim() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  int head_dim() const { return d_model / n_head; }
};

// "tiny", "mini", "small" (test and CPU sizes), "gpt2" (124M), "gpt2-medium" (350M),
// "gpt2-large" (774M), "gpt2-xl" (1.5B). Throws UserError naming the unknown preset.
GPT2Config gpt2_preset(const std::string& name);
std::vector<std::string> gpt2_preset_names();

// Throws UserError when the shape is impossible (heads not dividing d_model, ...).
void validate(const GPT2Config& config);

}  // namespace molt::model
