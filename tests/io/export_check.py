"""Checks a `molt export` folder against the run it came from (see export_test.sh).

usage: export_check.py RUN HF_DIR DATASET
"""
import glob
import json
import math
import struct
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    """An independent reader: 8-byte header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
    return out


def hf_gpt2_loss(p, cfg, windows):
    """GPT-2 in the Hugging Face layout (Conv1D weights are [in, out]); mean token loss."""
    x_ids = torch.tensor(windows[:, :-1], dtype=torch.long)
    y = torch.tensor(windows[:, 1:], dtype=torch.long)
    B, T = x_ids.shape
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    t = {k: torch.tensor(v) for k, v in p.items()}
    x = t["transformer.wte.weight"][x_ids] + t["transformer.wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        h = f"transformer.h.{l}."
        a = F.layer_norm(x, (C,), t[h + "ln_1.weight"], t[h + "ln_1.bias"], eps)
        q, k, v = (a @ t[h + "attn.c_attn.weight"] + t[h + "attn.c_attn.bias"]).split(C, -1)
        q, k, v = (z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v))
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(C // H)).masked_fill(~mask, float("-inf"))
        y_att = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y_att @ t[h + "attn.c_proj.weight"] + t[h + "attn.c_proj.bias"]
        a = F.layer_norm(x, (C,), t[h + "ln_2.weight"], t[h + "ln_2.bias"], eps)
        a = F.gelu(a @ t[h + "mlp.c_fc.weight"] + t[h + "mlp.c_fc.bias"], approximate="tanh")
        x = x + a @ t[h + "mlp.c_proj.weight"] + t[h + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), t["transformer.ln_f.weight"], t["transformer.ln_f.bias"], eps)
    logits = x @ t["transformer.wte.weight"].T
    return F.cross_entropy(logits.reshape(B * T, -1), y.reshape(-1)).item()


def val_windows(dataset, seq_len, count):
    """The windows the trainer's evaluation reads: val shards in order, stride seq_len."""
    windows = []
    for path in sorted(glob.glob(f"{dataset}/val-*.h5")):
        tokens = np.array(h5py.File(path)["tokens"], dtype=np.int64)
        for i in range((len(tokens) - 1) // seq_len):
            windows.append(tokens[i * seq_len: i * seq_len + seq_len + 1])
    return np.stack([windows[i % len(windows)] for i in range(count)])


def main(run, hf, dataset):
    failures = []
    tensors = read_safetensors(f"{hf}/model.safetensors")
    cfg = json.load(open(f"{hf}/config.json"))
    latest = open(f"{run}/checkpoints/latest").read().strip()
    model_h5 = h5py.File(f"{run}/checkpoints/{latest}/model.h5")
    names = []
    model_h5.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) else None)
    if sorted(names) != sorted(tensors):
        failures.append(f"tensor names differ: {sorted(set(names) ^ set(tensors))[:5]}")
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    for n in names:
        molt = np.array(model_h5[n])
        expected = molt.T if n.endswith(conv1d) else molt
        if n in tensors and not np.array_equal(expected, tensors[n]):
            failures.append(f"{n} differs from the checkpoint")
    print(f"{len(names)} tensors equal to the checkpoint (Conv1D transposed)")

    job = {}
    for line in open(f"{run}/run.toml"):
        line = line.split("#")[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            job[f"{section}.{k}"] = v
    seq_len, G, batches = int(job["data.seq_len"]), int(job["batch.global_batch"]), int(job["eval.batches"])
    windows = val_windows(dataset, seq_len, batches * G)
    molt_val = json.load(open(f"{run}/summary.json"))["val_loss"]
    ours = hf_gpt2_loss(tensors, cfg, windows)
    err = abs(ours - molt_val) / molt_val
    print(f"val loss: molt {molt_val:.7f}, exported model (torch) {ours:.7f}, rel {err:.1e}")
    if err > 1e-4:
        failures.append(f"exported model's val loss differs by {err:.1e}")
    try:
        import transformers  # noqa: F401
    except ImportError:
        print("SKIP: transformers is not importable here; GPT2LMHeadModel check skipped")
    else:
        from transformers import GPT2LMHeadModel
        m = GPT2LMHeadModel.from_pretrained(hf).eval()
        with torch.no_grad():
            ids = torch.tensor(windows, dtype=torch.long)
            logits = m(ids[:, :-1]).logits
            hf_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).item()
        err = abs(hf_loss - molt_val) / molt_val
        print(f"val loss: GPT2LMHeadModel {hf_loss:.7f}, rel {err:.1e}")
        if err > 1e-4:
            failures.append(f"GPT2LMHeadModel's loss differs by {err:.1e}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
