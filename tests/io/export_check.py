"""Checks a `molt export` folder against the run it came from (see export_test.sh).

usage: export_check.py gpt2 RUN HF_DIR DATASET
       export_check.py t5   RUN HF_DIR DUMP.h5

Both: every tensor of the checkpoint appears under its Hugging Face name with the same values
(GPT-2's Conv1D weights transposed; T5's shared.weight also as encoder/decoder.embed_tokens).
gpt2: an independent torch GPT-2 reading the HF layout recomputes the run's final val loss
from the val shards (summary.json), within 1e-4 relative.
t5: the independent torch T5 v1.1 of tests/model/t5_oracle.py, reading the HF layout and
config.json, computes the loss on the batch `molt eval --dump-batch` wrote, equal to molt's
within 1e-4 relative.
Where transformers is importable, GPT2LMHeadModel / T5ForConditionalGeneration loaded with
from_pretrained must agree too (skipped with a message otherwise).
"""
import glob
import json
import math
import os
import struct
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import t5_oracle  # noqa: E402

T5_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


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


def check_tensors(run, tensors, family, failures):
    """The exported tensors are the latest checkpoint's, under Hugging Face's names."""
    latest = open(f"{run}/checkpoints/latest").read().strip()
    model_h5 = h5py.File(f"{run}/checkpoints/{latest}/model.h5", "r")
    names = []
    model_h5.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) else None)
    expected = {}
    for n in names:
        molt = np.array(model_h5[n])
        expected[n] = molt.T if family == "gpt2" and n.endswith(CONV1D) else molt
    if family == "t5":
        for alias in T5_ALIASES:
            expected[alias] = expected["shared.weight"]
    if sorted(expected) != sorted(tensors):
        failures.append(f"tensor names differ: {sorted(set(expected) ^ set(tensors))[:5]}")
    for n, value in expected.items():
        if n in tensors and not np.array_equal(value, tensors[n]):
            failures.append(f"{n} differs from the checkpoint")
    print(f"{len(tensors)} exported tensors equal to the checkpoint's {len(names)}")


def run_job(run):
    """run.toml as {"section.key": text}."""
    job, section = {}, ""
    for line in open(f"{run}/run.toml"):
        line = line.split("#")[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            job[f"{section}.{k}"] = v.strip('"')
    return job


def compare(label, ours, molt, failures):
    err = abs(ours - molt) / abs(molt)
    print(f"loss: molt {molt:.7f}, {label} {ours:.7f}, rel {err:.1e}")
    if err > 1e-4:
        failures.append(f"{label}'s loss differs from molt's by {err:.1e}")


def transformers_or_skip(architecture):
    try:
        import transformers
    except ImportError:
        print(f"SKIP: transformers is not importable here; the {architecture} check is skipped")
        return None
    return getattr(transformers, architecture)


# --- GPT-2 --------------------------------------------------------------------------------

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
    """The windows the trainer's evaluation reads: of the val shards' windows (in order,
    stride seq_len), `count` spread evenly: window i is floor(i*S/count) of S, or all S in
    order, repeated, when count >= S."""
    windows = []
    for path in sorted(glob.glob(f"{dataset}/val-*.h5")):
        tokens = np.array(h5py.File(path, "r")["tokens"], dtype=np.int64)
        for i in range((len(tokens) - 1) // seq_len):
            windows.append(tokens[i * seq_len: i * seq_len + seq_len + 1])
    S = len(windows)
    if count < S:
        return np.stack([windows[i * S // count] for i in range(count)])
    return np.stack([windows[i % S] for i in range(count)])


def check_gpt2(run, hf, dataset, tensors, cfg, failures):
    job = run_job(run)
    if cfg["model_type"] != "gpt2" or cfg["n_layer"] != int(job["model.n_layer"]):
        failures.append(f"config.json does not describe the run's GPT-2: {cfg}")
    seq_len, G, batches = int(job["data.seq_len"]), int(job["batch.global_batch"]), int(job["eval.batches"])
    windows = val_windows(dataset, seq_len, batches * G)
    molt_val = json.load(open(f"{run}/summary.json"))["val_loss"]
    compare("exported model (torch)", hf_gpt2_loss(tensors, cfg, windows), molt_val, failures)
    GPT2LMHeadModel = transformers_or_skip("GPT2LMHeadModel")
    if GPT2LMHeadModel is not None:
        m = GPT2LMHeadModel.from_pretrained(hf).eval()
        with torch.no_grad():
            ids = torch.tensor(windows, dtype=torch.long)
            logits = m(ids[:, :-1]).logits
            hf_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).item()
        compare("GPT2LMHeadModel", hf_loss, molt_val, failures)


# --- T5 -----------------------------------------------------------------------------------

def check_t5_config(run, cfg, failures):
    job = run_job(run)
    want = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
            "d_model": int(job["model.d_model"]), "d_kv": int(job["model.d_kv"]),
            "d_ff": int(job["model.d_ff"]), "num_layers": int(job["model.n_layer"]),
            "num_decoder_layers": int(job["model.n_decoder_layer"]),
            "num_heads": int(job["model.n_head"]), "vocab_size": int(job["model.vocab_size"]),
            "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
            "dropout_rate": 0.0, "layer_norm_epsilon": 1e-6, "feed_forward_proj": "gated-gelu",
            "is_encoder_decoder": True, "tie_word_embeddings": False, "pad_token_id": 0,
            "eos_token_id": 1, "decoder_start_token_id": 0}
    for key, value in want.items():
        if cfg.get(key) != value:
            failures.append(f"config.json {key} = {cfg.get(key)!r}, want {value!r}")


def check_t5(run, hf, dump, tensors, cfg, failures):
    check_t5_config(run, cfg, failures)
    f = h5py.File(dump, "r")
    batch = [torch.tensor(np.array(f[k]), dtype=torch.long) for k in ("inputs", "decoder_inputs", "targets")]
    molt_loss = float(f.attrs["loss"])
    assert int(f.attrs["ignore_index"]) == t5_oracle.IGNORE
    p = {k: torch.tensor(v) for k, v in tensors.items()}
    with torch.no_grad():
        ours = t5_oracle.t5_loss(p, *batch, cfg["num_heads"], cfg["layer_norm_epsilon"],
                                 cfg["relative_attention_num_buckets"],
                                 cfg["relative_attention_max_distance"]).item()
    print(f"dumped batch: inputs {tuple(batch[0].shape)}, targets {tuple(batch[2].shape)}")
    compare("exported model (torch T5 oracle)", ours, molt_loss, failures)
    T5ForConditionalGeneration = transformers_or_skip("T5ForConditionalGeneration")
    if T5ForConditionalGeneration is not None:
        m = T5ForConditionalGeneration.from_pretrained(hf).eval()
        labels = batch[2].masked_fill(batch[2] == t5_oracle.IGNORE, -100)
        with torch.no_grad():
            out = m(input_ids=batch[0], decoder_input_ids=batch[1], labels=labels)
        compare("T5ForConditionalGeneration", out.loss.item(), molt_loss, failures)


def main(family, run, hf, extra):
    failures = []
    tensors = read_safetensors(f"{hf}/model.safetensors")
    cfg = json.load(open(f"{hf}/config.json"))
    check_tensors(run, tensors, family, failures)
    if family == "gpt2":
        check_gpt2(run, hf, extra, tensors, cfg, failures)
    else:
        check_t5(run, hf, extra, tensors, cfg, failures)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("gpt2", "t5"):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:5]))
