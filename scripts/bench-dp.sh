#!/usr/bin/env bash
# Strong scaling of data parallelism on this machine: the same job and global batch trained
# on W=1 and on W=2 ranks (mpirun), one after the other in one invocation. Prints tokens/s of
# each, the speed-up, and the fraction of rank 0's step time spent waiting for gradient
# communication (comm_wait_s in metrics.jsonl: time blocked in the bucketed all-reduce, or in
# the reduce-scatter + all-gather under ZeRO-1, that overlap with backward did not hide).
# The first 3 steps (warm-up) are left out. Buckets are 4 MB (the model has ~21 MB of
# gradients) so that several all-reduces overlap backward; override with --set
# dist.bucket_mb=... A benchmark, not a test: use an idle machine.
#   scripts/bench-dp.sh [MOLT_BIN] [DATASET] [extra --set flags...]
# Each rank gets cores/W threads unless OMP_NUM_THREADS is set.
set -euo pipefail
bin=$(realpath "${1:-build/bin/molt}")
dataset=$(realpath "${2:-data/brown}")
shift $(($# > 2 ? 2 : $#))
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

global=16
job=("$here/jobs/examples/tiny-gpt.toml" --set data.dataset="$dataset" --set model.d_model=256
     --set model.n_head=4 --set model.d_ff=1024 --set model.n_layer=4 --set model.n_ctx=128
     --set data.seq_len=128 --set batch.global_batch=$global --set train.steps=15
     --set eval.every=0 --set eval.batches=1 --set checkpoint.every=0 --set dist.bucket_mb=4 "$@")

"$bin" train "${job[@]}" --set run.dir="$work/w1" --set batch.micro_batch=$global >"$work/w1.log"
mpirun --bind-to none -np 2 "$bin" train "${job[@]}" --set run.dir="$work/w2" \
  --set batch.micro_batch=$((global / 2)) >"$work/w2.log"
grep -h "molt train:" "$work/w1.log" "$work/w2.log"

/usr/bin/python3 - "$work/w1" "$work/w2" <<'PY'
import json, sys
rows = {}
for run, world in zip(sys.argv[1:], (1, 2)):
    lines = [json.loads(l) for l in open(f"{run}/metrics.jsonl")][3:]  # skip warm-up
    step_s = sum((l2["tokens"] - l1["tokens"]) / l2["tokens_per_s"] for l1, l2 in zip(lines, lines[1:]))
    tokens = lines[-1]["tokens"] - lines[0]["tokens"]
    wait_s = lines[-1]["comm_wait_s"] - lines[0]["comm_wait_s"]
    rows[world] = (tokens / step_s, wait_s / step_s)
    print(f"W={world}: {tokens / step_s:10.0f} tokens/s   comm wait {100 * wait_s / step_s:5.1f}% of step time")
print(f"speed-up W=2 / W=1: {rows[2][0] / rows[1][0]:.2f}x (ideal 2.00x on 2 idle cores)")
PY
