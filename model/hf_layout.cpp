#include "model/hf_layout.h"

namespace molt::model {

HfTensorLayout gpt2_hf_layout(const std::string& molt_name) {
  auto ends_with = [&](const char* suffix) {
    std::string s(suffix);
    return molt_name.size() >= s.size() &&
           molt_name.compare(molt_name.size() - s.size(), s.size(), s) == 0;
  };
  bool conv1d = ends_with("attn.c_attn.weight") || ends_with("attn.c_proj.weight") ||
                ends_with("mlp.c_fc.weight") || ends_with("mlp.c_proj.weight");
  return {molt_name, conv1d, {}};
}

HfTensorLayout t5_hf_layout(const std::string& molt_name) {
  if (molt_name == "shared.weight") {
    return {molt_name, false, {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}};
  }
  return {molt_name, false, {}};
}

}  // namespace molt::model
