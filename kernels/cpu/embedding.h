// Token/position embeddings (GPT-2) and T5's relative position bias lookup.
#pragma once

#include "kernels/backend.h"

namespace molt::kernels::cpu {

void embedding_forward(Tensor out, Tensor ids, Tensor table, Tensor positions, int B, int T,
                       int C);
void embedding_backward(Tensor dtable, Tensor dpositions, Tensor dout, Tensor ids, int B, int T,
                        int C);
void position_bias_forward(Tensor out, Tensor table, Tensor buckets, int H, int Tq, int Tk);
void position_bias_backward(Tensor dtable, Tensor dout, Tensor buckets, int H, int Tq, int Tk);

}  // namespace molt::kernels::cpu
