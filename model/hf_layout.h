// How molt's tensors appear in the Hugging Face layout of their family, for `molt export`.
//
// molt keeps every linear weight as [out, in] (torch.nn.Linear). Hugging Face's GPT-2 uses
// Conv1D for c_attn, c_proj and c_fc, which stores [in, out], so those are transposed on
// export; names are already Hugging Face's. T5 uses nn.Linear, so it maps one to one.
#pragma once

#include <string>

namespace molt::model {

struct HfTensorLayout {
  std::string name;       // the name in the Hugging Face state dict
  bool transpose = false;  // [out, in] → [in, out]
};

HfTensorLayout gpt2_hf_layout(const std::string& molt_name);

}  // namespace molt::model
