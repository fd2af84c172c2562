"""Compares two molt runs: per-step losses and the final checkpoint's weights and AdamW moments.

usage: compare_runs.py REF RUN LOSS_TOL PARAM_TOL [EXPECT_SHARDS]
Tolerances are absolute: |loss_ref - loss_run| <= LOSS_TOL at every step, and
max |x_ref - x_run| <= PARAM_TOL over every parameter and every element of m (v is compared
relative to its scale, since it is a square of gradients). EXPECT_SHARDS, when given, is
the number of optimizer shards RUN's optim.h5 must hold (W under ZeRO-1).
"""
import json
import sys

import h5py
import numpy as np


def losses(run):
    return [json.loads(line)["loss"] for line in open(f"{run}/metrics.jsonl")]


def latest(run):
    name = open(f"{run}/checkpoints/latest").read().strip()
    return f"{run}/checkpoints/{name}"


def params(folder):
    out = {}
    with h5py.File(f"{folder}/model.h5") as f:
        f.visititems(lambda k, v: out.__setitem__(k, np.array(v)) if isinstance(v, h5py.Dataset) else None)
    return out


def moments(folder):
    """Full m and v, and the number of shards they were stored as."""
    with h5py.File(f"{folder}/optim.h5") as f:
        if "m" in f:
            return np.array(f["m"]), np.array(f["v"]), 1
        parts = sorted((int(g.attrs["offset"]), np.array(g["m"]), np.array(g["v"])) for g in f.values())
        m = np.concatenate([p[1] for p in parts])
        v = np.concatenate([p[2] for p in parts])
        return m, v, len(parts)


def main():
    ref, run, loss_tol, param_tol = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    expect_shards = int(sys.argv[5]) if len(sys.argv) > 5 else None
    la, lb = losses(ref), losses(run)
    if len(la) != len(lb):
        sys.exit(f"{run}: {len(lb)} metrics lines, reference has {len(la)}")
    loss_diff = max(abs(a - b) for a, b in zip(la, lb))
    pa, pb = params(latest(ref)), params(latest(run))
    if pa.keys() != pb.keys():
        sys.exit(f"{run}: parameter names differ")
    param_diff = max(float(np.max(np.abs(pa[k] - pb[k]))) for k in pa)
    ma, va, _ = moments(latest(ref))
    mb, vb, shards = moments(latest(run))
    m_diff = float(np.max(np.abs(ma - mb)))
    v_diff = float(np.max(np.abs(va - vb))) / max(float(np.max(np.abs(va))), 1e-30)
    print(f"{run}: max |dloss| {loss_diff:.3g}, |dparam| {param_diff:.3g}, |dm| {m_diff:.3g}, "
          f"|dv|/max v {v_diff:.3g}, {shards} optimizer shard(s)")
    problems = []
    if loss_diff > loss_tol:
        problems.append(f"losses differ by {loss_diff:.3g} > {loss_tol}")
    if param_diff > param_tol or m_diff > param_tol or v_diff > param_tol:
        problems.append(f"weights/moments differ by more than {param_tol}")
    if expect_shards is not None and shards != expect_shards:
        problems.append(f"optim.h5 holds {shards} shard(s), expected {expect_shards}")
    if problems:
        for a, b in zip(la, lb):
            print(f"  {a!r:24} {b!r}")
        sys.exit(f"{run}: " + "; ".join(problems))


main()
