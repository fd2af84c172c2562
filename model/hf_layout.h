// How molt's tensors appear in the Hugging Face layout of their family, for `molt export`.
//
// molt keeps every linear weight as [out, in] (torch.nn.Linear), under Hugging Face's names.
//   GPT2LMHeadModel: Conv1D for c_attn, c_proj and c_fc stores [in, out], so those are
//     transposed on export; every other tensor is written as it is.
//   T5ForConditionalGeneration: nn.Linear throughout, so every tensor maps one to one.
//     molt stores the token embedding once, as shared.weight; Hugging Face's model also
//     names it encoder.embed_tokens.weight and decoder.embed_tokens.weight (the stacks hold
//     the same nn.Embedding). The export writes all three names, as T5 v1.1's published
//     checkpoints do: every transformers version then finds the embedding under the name
//     it looks for, whether or not it ties the aliases to shared.weight when
//     tie_word_embeddings is false (it means "untied, unscaled lm_head" for T5 v1.1).
#pragma once

#include <string>
#include <vector>

namespace molt::model {

struct HfTensorLayout {
  std::string name;                  // the name in the Hugging Face state dict
  bool transpose = false;            // [out, in] → [in, out]
  std::vector<std::string> aliases;  // further names under which the same values are written
};

HfTensorLayout gpt2_hf_layout(const std::string& molt_name);
HfTensorLayout t5_hf_layout(const std::string& molt_name);

}  // namespace molt::model
