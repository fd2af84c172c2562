// FLOP accounting: the one function behind MFU, tokens/s reports and scaling-law C.
//
// A model describes the work of one forward pass over one example as multiply-accumulates:
//   linear layers:  tokens · in · out           (every weight used once per token)
//   attention:      2 · Tq · Tk · width         (scores q·kᵀ, then probabilities·v)
// Training is forward + backward, and backward costs twice the forward, so
//   C_train = 3 · 2 FLOPs/MAC · MACs = 6 · MACs.
// For GPT-2 with T tokens this gives C per token ≈ 6·N_matmul + 12·n_layer·T·d_model
// (Kaplan et al. 2020; the attention term counts the full T×T square, as PaLM's MFU does,
// not the causal half). Embedding lookups, norms and elementwise ops are not counted.
#pragma once

namespace molt::model {

struct ForwardWork {
  double matmul_macs = 0;
  double attention_macs = 0;

  void linear(double tokens, double in_features, double out_features) {
    matmul_macs += tokens * in_features * out_features;
  }
  void attention(double q_tokens, double kv_tokens, double width) {
    attention_macs += 2.0 * q_tokens * kv_tokens * width;
  }
};

inline double training_flops(const ForwardWork& work) {
  return 6.0 * (work.matmul_macs + work.attention_macs);
}

// The formula, for reports.
inline const char* training_flops_formula() {
  return "C = 6 * (matmul MACs + attention MACs) per example; attention MACs = 2*Tq*Tk*width "
         "per layer (full square); decoder: C/token = 6*N_matmul + 12*n_layer*T*d_model";
}

}  // namespace molt::model
