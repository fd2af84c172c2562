"""PyTorch oracle for molt's T5 v1.1: an independent plain-torch implementation.

Reads the HDF5 written by t5_oracle_dump_tool (molt's initial weights, batches, loss,
gradients, 10 AdamW steps) and checks that PyTorch autograd agrees:
  * loss on the first batch, relative error <= 1e-4
  * every parameter gradient, ||g_molt - g_torch|| / ||g_torch|| <= 1e-4 per tensor
  * the loss on each of 10 further batches after each AdamW step, relative <= 1e-4
  * the final weights, per-tensor relative error <= 1e-4
The model is written from the T5 v1.1 description: RMSNorm without mean or bias, no
linear biases, gated GELU (tanh), relative position buckets (bidirectional in the encoder,
causal in the decoder, one table per stack in block 0), no 1/sqrt(d) score scaling,
cross-attention to the final encoder norm's output, untied unscaled lm_head.
Exits non-zero with a list of failures.
"""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
IGNORE = -1


def buckets(q_len, k_len, bidirectional, num_buckets, max_distance):
    """T5 relative position buckets [q_len, k_len], computed in fp32 like the reference."""
    rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]  # key - query
    out = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        out = out + (rel > 0).long() * num_buckets
        dist = rel.abs()
    else:
        dist = (-rel).clamp(min=0)
    exact = num_buckets // 2
    far = exact + (torch.log(dist.float() / exact) / math.log(max_distance / exact)
                   * (num_buckets - exact)).long()
    far = far.clamp(max=num_buckets - 1)
    return out + torch.where(dist < exact, dist, far)


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def attend(p, prefix, x_q, x_kv, n_head, bias, causal):
    B, Tq, _ = x_q.shape
    Tk = x_kv.shape[1]
    q = F.linear(x_q, p[prefix + "q.weight"]).view(B, Tq, n_head, -1).transpose(1, 2)
    k = F.linear(x_kv, p[prefix + "k.weight"]).view(B, Tk, n_head, -1).transpose(1, 2)
    v = F.linear(x_kv, p[prefix + "v.weight"]).view(B, Tk, n_head, -1).transpose(1, 2)
    scores = q @ k.transpose(-1, -2)  # no 1/sqrt(d): T5 folds it into q's initialisation
    if bias is not None:
        scores = scores + bias[None]
    if causal:
        allowed = torch.tril(torch.ones(Tq, Tk, dtype=torch.bool))
        scores = scores.masked_fill(~allowed, float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, Tq, -1)
    return F.linear(y, p[prefix + "o.weight"])


def gated_ffn(p, prefix, x):
    gate = F.gelu(F.linear(x, p[prefix + "wi_0.weight"]), approximate="tanh")
    return F.linear(gate * F.linear(x, p[prefix + "wi_1.weight"]), p[prefix + "wo.weight"])


def position_bias(table, T, bidirectional, num_buckets, max_distance):
    idx = buckets(T, T, bidirectional, num_buckets, max_distance)
    return table[idx].permute(2, 0, 1)  # [H, T, T]


def t5_loss(p, inputs, decoder_inputs, targets, n_head, eps, num_buckets, max_distance):
    count = lambda stack: len({k.split(".")[2] for k in p if k.startswith(stack + ".block.")})
    rel = "layer.0.SelfAttention.relative_attention_bias.weight"
    # Encoder.
    x = p["shared.weight"][inputs]
    bias = position_bias(p["encoder.block.0." + rel], inputs.shape[1], True, num_buckets, max_distance)
    for l in range(count("encoder")):
        b = f"encoder.block.{l}."
        x = x + attend(p, b + "layer.0.SelfAttention.", rms_norm(x, p[b + "layer.0.layer_norm.weight"], eps),
                       rms_norm(x, p[b + "layer.0.layer_norm.weight"], eps), n_head, bias, False)
        x = x + gated_ffn(p, b + "layer.1.DenseReluDense.", rms_norm(x, p[b + "layer.1.layer_norm.weight"], eps))
    memory = rms_norm(x, p["encoder.final_layer_norm.weight"], eps)
    # Decoder.
    y = p["shared.weight"][decoder_inputs]
    bias = position_bias(p["decoder.block.0." + rel], decoder_inputs.shape[1], False, num_buckets,
                         max_distance)
    for l in range(count("decoder")):
        b = f"decoder.block.{l}."
        h = rms_norm(y, p[b + "layer.0.layer_norm.weight"], eps)
        y = y + attend(p, b + "layer.0.SelfAttention.", h, h, n_head, bias, True)
        h = rms_norm(y, p[b + "layer.1.layer_norm.weight"], eps)
        y = y + attend(p, b + "layer.1.EncDecAttention.", h, memory, n_head, None, False)
        y = y + gated_ffn(p, b + "layer.2.DenseReluDense.", rms_norm(y, p[b + "layer.2.layer_norm.weight"], eps))
    y = rms_norm(y, p["decoder.final_layer_norm.weight"], eps)
    logits = F.linear(y, p["lm_head.weight"])  # untied: no d_model^-0.5 rescaling
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def rel_err(a, b):
    return float(torch.linalg.vector_norm(a - b) / max(float(torch.linalg.vector_norm(b)), 1e-30))


def main(path):
    failures = []
    with h5py.File(path, "r") as f:
        names = []
        f["init"].visit(lambda n: names.append(n) if isinstance(f["init"][n], h5py.Dataset) else None)
        params = {n: torch.tensor(np.array(f["init"][n]), requires_grad=True) for n in names}
        lr, clip, beta1, beta2, eps, wd, n_head, rms_eps, nb, maxd = [float(x) for x in f["settings"][:]]
        n_head, nb, maxd = int(n_head), int(nb), int(maxd)
        molt_losses = np.array(f["losses"])

        def batch(i):
            g = f[f"batch_{i}"]
            return [torch.tensor(np.array(g[k]), dtype=torch.long) for k in ("inputs", "decoder_inputs", "targets")]

        decay = [p for n, p in params.items() if p.dim() >= 2]
        no_decay = [p for n, p in params.items() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=lr, betas=(beta1, beta2), eps=eps)
        steps = len(molt_losses) - 1
        for step in range(steps + 1):
            inputs, decoder_inputs, targets = batch(step)
            opt.zero_grad()
            loss = t5_loss(params, inputs, decoder_inputs, targets, n_head, rms_eps, nb, maxd)
            err = abs(loss.item() - molt_losses[step]) / abs(loss.item())
            print(f"step {step}: loss torch {loss.item():.7f} molt {molt_losses[step]:.7f} rel {err:.2e}")
            if err > 1e-4:
                failures.append(f"loss at step {step}: relative error {err:.2e}")
            if step == steps:
                break
            loss.backward()
            if step == 0:
                worst, worst_name = 0.0, ""
                for n in names:
                    e = rel_err(torch.tensor(np.array(f["grads"][n])), params[n].grad)
                    if e > worst:
                        worst, worst_name = e, n
                    if e > 1e-4:
                        failures.append(f"gradient of {n}: relative error {e:.2e}")
                print(f"gradients: {len(names)} tensors, worst relative error {worst:.2e} ({worst_name})")
            # Clipping as molt does it: scale by min(1, clip / ||g||).
            norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params.values()))
            if clip > 0 and norm > clip:
                for p in params.values():
                    p.grad.mul_(clip / norm)
            opt.step()
        worst, worst_name = 0.0, ""
        for n in names:
            e = rel_err(torch.tensor(np.array(f["final"][n])), params[n].detach())
            if e > worst:
                worst, worst_name = e, n
            if e > 1e-4:
                failures.append(f"weights of {n} after {steps} steps: relative error {e:.2e}")
        print(f"weights after {steps} AdamW steps: worst relative error {worst:.2e} ({worst_name})")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("oracle agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
