"""The peer for `molt bench model --family encdec`: the same T5 v1.1 in PyTorch (torch.nn,
AdamW), trained on random tokens, printing tokens/s. By default eager fp32 on the CPU;
--device cuda --bf16 --compile is the compiled bf16 reference of scripts/bench-gpu.sh
(timed_training.py).

The model is written here from the T5 v1.1 description: RMSNorm without mean or bias, no
linear biases, gated GELU (tanh), relative position bias (32 buckets, max distance 128,
bidirectional in the encoder, causal in the decoder) computed once per stack from the
table of its first block, no 1/sqrt(d) score scaling, untied lm_head. On the CPU attention
is written out (scores + bias, softmax, values), which is what an eager T5 runs. On CUDA it
is scaled_dot_product_attention with the bias as an additive mask and scale 1 (torch 2.1+):
the fused kernels, so the reference is as fast as PyTorch makes it. tokens/s counts encoder
and decoder tokens: B·(encoder_len + decoder_len) a step.

usage: torch_t5.py --d-model 256 --d-ff 512 --d-kv 32 --heads 4 --layers 3 --decoder-layers 3
                   --encoder-len 256 --decoder-len 64 --micro-batch 8 --vocab-size 8192
                   --steps 10 --warmup 2 --threads 2 [--device cuda] [--bf16] [--compile]
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import timed_training


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def relative_buckets(q_len, k_len, bidirectional, device, num_buckets=32, max_distance=128):
    rel = torch.arange(k_len, device=device)[None, :] - torch.arange(q_len, device=device)[:, None]
    out = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        out = out + (rel > 0).long() * num_buckets
        dist = rel.abs()
    else:
        dist = (-rel).clamp(min=0)
    exact = num_buckets // 2
    far = exact + (torch.log(dist.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                   * (num_buckets - exact)).long()
    return out + torch.where(dist < exact, dist, far.clamp(max=num_buckets - 1))


class Attention(nn.Module):
    def __init__(self, d, heads, d_kv, fused):
        super().__init__()
        inner = heads * d_kv
        self.heads, self.fused = heads, fused
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)

    def forward(self, x_q, x_kv, bias):
        B, Tq, _ = x_q.shape
        Tk = x_kv.shape[1]
        q = self.q(x_q).view(B, Tq, self.heads, -1).transpose(1, 2)
        k = self.k(x_kv).view(B, Tk, self.heads, -1).transpose(1, 2)
        v = self.v(x_kv).view(B, Tk, self.heads, -1).transpose(1, 2)
        if self.fused:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        else:
            scores = q @ k.transpose(-1, -2)
            if bias is not None:
                scores = scores + bias
            y = scores.softmax(-1) @ v
        return self.o(y.transpose(1, 2).reshape(B, Tq, -1))


class GatedFFN(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.wi_0, self.wi_1 = nn.Linear(d, d_ff, bias=False), nn.Linear(d, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d, bias=False)

    def forward(self, x):
        return self.wo(F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x))


class Block(nn.Module):
    def __init__(self, d, d_ff, heads, d_kv, decoder, fused):
        super().__init__()
        self.self_norm, self.self_attn = RMSNorm(d), Attention(d, heads, d_kv, fused)
        self.cross_norm = RMSNorm(d) if decoder else None
        self.cross_attn = Attention(d, heads, d_kv, fused) if decoder else None
        self.ff_norm, self.ff = RMSNorm(d), GatedFFN(d, d_ff)

    def forward(self, x, bias, memory=None):
        h = self.self_norm(x)
        x = x + self.self_attn(h, h, bias)
        if self.cross_attn is not None:
            x = x + self.cross_attn(self.cross_norm(x), memory, None)
        return x + self.ff(self.ff_norm(x))


class Stack(nn.Module):
    def __init__(self, d, d_ff, heads, d_kv, layers, decoder, fused):
        super().__init__()
        self.decoder = decoder
        self.position_table = nn.Embedding(32, heads)
        self.blocks = nn.ModuleList(Block(d, d_ff, heads, d_kv, decoder, fused)
                                    for _ in range(layers))
        self.final_norm = RMSNorm(d)

    def forward(self, x, memory=None):
        T = x.shape[1]
        buckets = relative_buckets(T, T, not self.decoder, x.device)
        bias = self.position_table(buckets).permute(2, 0, 1)[None]
        if self.decoder:
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            bias = bias.masked_fill(~causal, float("-inf"))
        for block in self.blocks:
            x = block(x, bias, memory)
        return self.final_norm(x)


class T5(nn.Module):
    def __init__(self, vocab, d, d_ff, heads, d_kv, layers, decoder_layers, fused):
        super().__init__()
        self.shared = nn.Embedding(vocab, d)
        self.encoder = Stack(d, d_ff, heads, d_kv, layers, False, fused)
        self.decoder = Stack(d, d_ff, heads, d_kv, decoder_layers, True, fused)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, inputs, decoder_inputs, targets):
        memory = self.encoder(self.shared(inputs))
        logits = self.lm_head(self.decoder(self.shared(decoder_inputs), memory))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("d-model", 256), ("d-ff", 512), ("d-kv", 32), ("heads", 4),
                          ("layers", 3), ("decoder-layers", 3), ("encoder-len", 256),
                          ("decoder-len", 64), ("micro-batch", 8), ("vocab-size", 8192)]:
        p.add_argument("--" + name, type=int, default=default)
    timed_training.add_run_args(p)
    a = p.parse_args()
    device = timed_training.start(a)
    fused = a.device == "cuda" and timed_training.torch_at_least(2, 1)
    model = T5(a.vocab_size, a.d_model, a.d_ff, a.heads, a.d_kv, a.layers, a.decoder_layers,
               fused).to(device)
    B = a.micro_batch
    inputs = torch.randint(0, a.vocab_size, (B, a.encoder_len))
    targets = torch.randint(0, a.vocab_size, (B, a.decoder_len))
    decoder_inputs = torch.cat([torch.zeros(B, 1, dtype=torch.long), targets[:, :-1]], 1)
    inputs, targets, decoder_inputs = (t.to(device) for t in (inputs, targets, decoder_inputs))
    seconds, loss = timed_training.train(
        a, model, lambda module: module(inputs, decoder_inputs, targets))
    timed_training.report(a, " T5 (sdpa attention)" if fused else " T5", seconds, loss,
                          B * (a.encoder_len + a.decoder_len))


if __name__ == "__main__":
    main()
