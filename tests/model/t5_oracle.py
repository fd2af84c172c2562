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

The file's /structure holds the structure-ladder switches (share_cross_attention,
share_encoder_decoder, layerwise cross-attention, causal input), which this model
implements from their definitions in docs/structure/README.md. When the first three are
on, it also checks the ladder's end: a decoder-only model (one stack, written separately
below) over the sequence [input; decoder_inputs], bidirectional over the input unless the
input is causal, with loss on the target positions, computes the same loss and the same
gradients from the same weights (relative <= 1e-4).
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


def buckets(q_len, k_len, bidirectional, num_buckets, max_distance, first_query=0):
    """T5 relative position buckets [q_len, k_len], computed in fp32 like the reference.
    Query i sits at position first_query + i, key j at position j."""
    rel = torch.arange(k_len)[None, :] - (torch.arange(q_len) + first_query)[:, None]  # key - query
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
    """causal: query i (the last Tq of Tk positions) sees keys j <= i + Tk - Tq."""
    B, Tq, _ = x_q.shape
    Tk = x_kv.shape[1]
    q = F.linear(x_q, p[prefix + "q.weight"]).view(B, Tq, n_head, -1).transpose(1, 2)
    k = F.linear(x_kv, p[prefix + "k.weight"]).view(B, Tk, n_head, -1).transpose(1, 2)
    v = F.linear(x_kv, p[prefix + "v.weight"]).view(B, Tk, n_head, -1).transpose(1, 2)
    scores = q @ k.transpose(-1, -2)  # no 1/sqrt(d): T5 folds it into q's initialisation
    if bias is not None:
        scores = scores + bias[None]
    if causal:
        allowed = torch.tril(torch.ones(Tq, Tk, dtype=torch.bool), diagonal=Tk - Tq)
        scores = scores.masked_fill(~allowed, float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, Tq, -1)
    return F.linear(y, p[prefix + "o.weight"])


def gated_ffn(p, prefix, x):
    gate = F.gelu(F.linear(x, p[prefix + "wi_0.weight"]), approximate="tanh")
    return F.linear(gate * F.linear(x, p[prefix + "wi_1.weight"]), p[prefix + "wo.weight"])


def position_bias(table, T, bidirectional, num_buckets, max_distance):
    idx = buckets(T, T, bidirectional, num_buckets, max_distance)
    return table[idx].permute(2, 0, 1)  # [H, T, T]


def t5_loss(p, inputs, decoder_inputs, targets, n_head, eps, num_buckets, max_distance,
            structure=(0, 0, 0, 0)):
    share_cross, share_stacks, layerwise, causal_input = structure
    count = lambda stack: len({k.split(".")[2] for k in p if k.startswith(stack + ".block.")})
    rel = "layer.0.SelfAttention.relative_attention_bias.weight"
    enc = "decoder" if share_stacks else "encoder"  # one stack of parameters serves both
    ffn = lambda stack: "layer.2." if stack == "decoder" and not share_cross else "layer.1."
    Te, Td = inputs.shape[1], decoder_inputs.shape[1]
    # Encoder. Layerwise, decoder layer l reads the normalised input of encoder layer l, and
    # the encoder stops there at its last layer.
    x = p["shared.weight"][inputs]
    layers = count(enc)
    sources = []
    for l in range(layers):
        b = f"{enc}.block.{l}."
        h = rms_norm(x, p[b + "layer.0.layer_norm.weight"], eps)
        sources.append(h)
        if layerwise and l == layers - 1:
            break
        if l == 0:
            idx = buckets(Te, Te, not causal_input, num_buckets, max_distance)
            bias = p[f"{enc}.block.0." + rel][idx].permute(2, 0, 1)
        x = x + attend(p, b + "layer.0.SelfAttention.", h, h, n_head, bias, causal_input)
        x = x + gated_ffn(p, b + ffn(enc) + "DenseReluDense.", rms_norm(x, p[b + ffn(enc) + "layer_norm.weight"], eps))
    if not layerwise:
        memory = rms_norm(x, p[enc + ".final_layer_norm.weight"], eps)
    # Decoder. Sharing cross-attention, a layer's self-attention takes keys and values of the
    # input (from what it reads, through its own k, v) followed by the target's, in one
    # softmax; target position t is at Te + t for the position buckets.
    y = p["shared.weight"][decoder_inputs]
    Tk = Te + Td if share_cross else Td
    idx = buckets(Td, Tk, False, num_buckets, max_distance, first_query=Te if share_cross else 0)
    bias = p["decoder.block.0." + rel][idx].permute(2, 0, 1)
    for l in range(count("decoder")):
        b = f"decoder.block.{l}."
        source = sources[l] if layerwise else memory
        h = rms_norm(y, p[b + "layer.0.layer_norm.weight"], eps)
        if share_cross:
            y = y + attend(p, b + "layer.0.SelfAttention.", h, torch.cat([source, h], 1), n_head, bias, True)
        else:
            y = y + attend(p, b + "layer.0.SelfAttention.", h, h, n_head, bias, True)
            h = rms_norm(y, p[b + "layer.1.layer_norm.weight"], eps)
            y = y + attend(p, b + "layer.1.EncDecAttention.", h, source, n_head, None, False)
        y = y + gated_ffn(p, b + ffn("decoder") + "DenseReluDense.", rms_norm(y, p[b + ffn("decoder") + "layer_norm.weight"], eps))
    y = rms_norm(y, p["decoder.final_layer_norm.weight"], eps)
    logits = F.linear(y, p["lm_head.weight"])  # untied: no d_model^-0.5 rescaling
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def decoder_only_loss(p, inputs, decoder_inputs, targets, n_head, eps, num_buckets, max_distance,
                      bidirectional_prefix):
    """A decoder-only T5-style model: one stack (the decoder.* blocks, no cross-attention)
    over z = [inputs; decoder_inputs]. Query i sees key j if j <= i, or, with a
    bidirectional prefix, if both lie in the input. Position buckets are bidirectional
    between two input positions of a bidirectional prefix, causal otherwise. The loss is
    on the last Td positions."""
    Te, Td = inputs.shape[1], decoder_inputs.shape[1]
    T = Te + Td
    z = torch.cat([inputs, decoder_inputs], 1)
    in_prefix = torch.arange(T) < Te
    both = in_prefix[:, None] & in_prefix[None, :] & bidirectional_prefix
    idx = torch.where(both, buckets(T, T, True, num_buckets, max_distance),
                      buckets(T, T, False, num_buckets, max_distance))
    bias = p["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][idx].permute(2, 0, 1)
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool)) | both
    bias = bias.masked_fill(~allowed, float("-inf"))
    layers = len({k.split(".")[2] for k in p if k.startswith("decoder.block.")})
    x = p["shared.weight"][z]
    for l in range(layers):
        b = f"decoder.block.{l}."
        h = rms_norm(x, p[b + "layer.0.layer_norm.weight"], eps)
        x = x + attend(p, b + "layer.0.SelfAttention.", h, h, n_head, bias, False)
        x = x + gated_ffn(p, b + "layer.1.DenseReluDense.", rms_norm(x, p[b + "layer.1.layer_norm.weight"], eps))
    x = rms_norm(x[:, Te:], p["decoder.final_layer_norm.weight"], eps)
    logits = F.linear(x, p["lm_head.weight"])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def rel_err(a, b):
    return float(torch.linalg.vector_norm(a - b) / max(float(torch.linalg.vector_norm(b)), 1e-30))


def check_decoder_only(f, names, params, inputs, decoder_inputs, targets, molt_loss, n_head, eps,
                       nb, maxd, bidirectional_prefix):
    """The ladder's end: molt's encdec with the switches on vs a decoder-only model."""
    failures = []
    fresh = {n: t.detach().clone().requires_grad_(True) for n, t in params.items()}
    loss = decoder_only_loss(fresh, inputs, decoder_inputs, targets, n_head, eps, nb, maxd,
                             bidirectional_prefix)
    loss.backward()
    kind = "prefix-LM (bidirectional input)" if bidirectional_prefix else "causal"
    err = abs(loss.item() - molt_loss) / abs(loss.item())
    print(f"decoder-only {kind}: loss {loss.item():.7f} molt encdec {molt_loss:.7f} rel {err:.2e}")
    if err > 1e-4:
        failures.append(f"decoder-only equivalence: loss relative error {err:.2e}")
    failures += compare_grads(f, names, fresh, f"decoder-only {kind}")
    return failures


def compare_grads(f, names, params, label):
    """molt's gradients (/grads) against params[n].grad; prints the worst, returns failures."""
    failures, worst, worst_name = [], 0.0, ""
    for n in names:
        e = rel_err(torch.tensor(np.array(f["grads"][n])), params[n].grad)
        if e > worst:
            worst, worst_name = e, n
        if e > 1e-4:
            failures.append(f"{label}: gradient of {n}: relative error {e:.2e}")
    print(f"{label}: {len(names)} gradients, worst relative error {worst:.2e} ({worst_name})")
    return failures


def main(path):
    failures = []
    with h5py.File(path, "r") as f:
        names = []
        f["init"].visit(lambda n: names.append(n) if isinstance(f["init"][n], h5py.Dataset) else None)
        params = {n: torch.tensor(np.array(f["init"][n]), requires_grad=True) for n in names}
        lr, clip, beta1, beta2, eps, wd, n_head, rms_eps, nb, maxd = [float(x) for x in f["settings"][:]]
        n_head, nb, maxd = int(n_head), int(nb), int(maxd)
        molt_losses = np.array(f["losses"])
        structure = tuple(int(x) for x in f["structure"][:]) if "structure" in f else (0, 0, 0, 0)
        print(f"structure switches (share_cross, share_stacks, layerwise, causal_input): {structure}")

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
            loss = t5_loss(params, inputs, decoder_inputs, targets, n_head, rms_eps, nb, maxd, structure)
            err = abs(loss.item() - molt_losses[step]) / abs(loss.item())
            print(f"step {step}: loss torch {loss.item():.7f} molt {molt_losses[step]:.7f} rel {err:.2e}")
            if err > 1e-4:
                failures.append(f"loss at step {step}: relative error {err:.2e}")
            if step == steps:
                break
            loss.backward()
            if step == 0:
                failures += compare_grads(f, names, params, "encdec")
                if structure[:3] == (1, 1, 1):
                    failures += check_decoder_only(f, names, params, inputs, decoder_inputs, targets,
                                                   molt_losses[0], n_head, rms_eps, nb, maxd,
                                                   bidirectional_prefix=not structure[3])
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
