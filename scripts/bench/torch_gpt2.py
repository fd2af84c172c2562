"""The peer for `molt bench model`: the same GPT-2 in PyTorch (torch.nn, pre-LayerNorm,
tanh GELU, tied embeddings, scaled_dot_product_attention where torch has it, AdamW), trained
on random tokens, printing tokens/s. By default eager fp32 on the CPU; --device cuda --bf16
--compile is the compiled bf16 reference of scripts/bench-gpu.sh (timed_training.py).

usage: torch_gpt2.py --d-model 256 --layers 4 --heads 4 --seq-len 256 --micro-batch 8
                     --vocab-size 8192 --steps 10 --warmup 2 --threads 2
                     [--device cuda] [--bf16] [--compile]
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import timed_training


def causal_attention(q, k, v):
    """The fused kernel where this torch has it (2.0+), else the same math in eager ops."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, vocab, n_ctx, d, layers, heads):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(n_ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        # GPT-2's init, as molt's: N(0, 0.02), residual projections / sqrt(2 * layers).
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("d-model", 256), ("layers", 4), ("heads", 4), ("seq-len", 256),
                          ("micro-batch", 8), ("vocab-size", 8192)]:
        p.add_argument("--" + name, type=int, default=default)
    timed_training.add_run_args(p)
    a = p.parse_args()
    device = timed_training.start(a)
    model = GPT2(a.vocab_size, a.seq_len, a.d_model, a.layers, a.heads).to(device)
    idx = torch.randint(0, a.vocab_size, (a.micro_batch, a.seq_len)).to(device)
    tgt = torch.randint(0, a.vocab_size, (a.micro_batch, a.seq_len)).to(device)
    seconds, loss = timed_training.train(a, model, lambda module: module(idx, tgt))
    attention = "sdpa" if hasattr(F, "scaled_dot_product_attention") else "matmul+softmax"
    timed_training.report(a, f" ({attention} attention)", seconds, loss, a.micro_batch * a.seq_len)


if __name__ == "__main__":
    main()
