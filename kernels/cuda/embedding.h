// Token/position embeddings and T5's relative position bias on the GPU (see embedding.cu).
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/device_context.h"

namespace molt::kernels::cuda {

void embedding_forward(const DeviceContext& ctx, Tensor out, Tensor ids, Tensor table,
                       Tensor positions, int B, int T, int C);
void embedding_backward(const DeviceContext& ctx, Tensor dtable, Tensor dpositions, Tensor dout,
                        Tensor ids, int B, int T, int C);
void position_bias_forward(const DeviceContext& ctx, Tensor out, Tensor table, Tensor buckets,
                           int H, int Tq, int Tk);
void position_bias_backward(const DeviceContext& ctx, Tensor dtable, Tensor dout, Tensor buckets,
                            int H, int Tq, int Tk);

}  // namespace molt::kernels::cuda
