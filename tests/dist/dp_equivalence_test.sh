#!/usr/bin/env bash
# Data-parallel equivalence: W ranks x micro-batch b train the same model as 1 rank x W·b.
# The global batch is 12 sequences; every run sees the same 12 samples per step (the loader
# slices rank r, micro-step m to samples [(m·W + r)·b, +b)), so only the order in which fp32
# gradients are summed differs (per-rank GEMMs, then over ranks). Over 6 AdamW steps of the
# tiny model that moves losses by <= 3e-8 and weights by <= 4e-6 (measured: OpenBLAS, one
# thread); the test allows 1e-6 on every step's loss and 5e-5 on every weight and moment
# (v relative to its largest element), far below what a wrong slice, a missing or doubled
# rank, a wrong scale or a stale shard would cause (>1e-3 on the loss).
#
# Matrix: W in {2, 3} x {no accumulation, 2 accumulation steps} x {full, sharded (ZeRO-1)
# optimizer}, plus W = 1 with accumulation and W = 2 with activation recomputation, all
# against W = 1 with micro_batch 12.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

LOSS_TOL=1e-6
PARAM_TOL=5e-5
job() { tiny_job_args "$WORK/data" "$1" --set train.steps=6 --set batch.global_batch=12 \
  --set checkpoint.every=0 --set eval.every=0 --set dist.bucket_mb=0.01 "${@:2}"; }
launch() {  # launch W ARGS...
  local world=$1
  shift
  if [ "$world" -eq 1 ]; then "$MOLT_BIN" train "$@"; else
    mpirun --oversubscribe --bind-to none -np "$world" "$MOLT_BIN" train "$@"; fi
}

"$MOLT_BIN" train $(job "$WORK/ref" --set batch.micro_batch=12) >/dev/null || fail "reference run failed"

checked=0
check() {  # check NAME W MICRO SHARD [--set ...]
  local name=$1 world=$2 micro=$3 shard=$4 run="$WORK/$1"
  launch "$world" $(job "$run" --set batch.micro_batch="$micro" --set dist.shard_optimizer="$shard" "${@:5}") \
    >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "$name: training failed"; }
  grep -q "$world rank(s) x $micro seq" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: not $world ranks x $micro"; }
  local shards=1
  [ "$shard" = true ] && shards=$world
  "$PY" "$MOLT_SOURCE_DIR/tests/dist/compare_runs.py" "$WORK/ref" "$run" $LOSS_TOL $PARAM_TOL $shards \
    || fail "$name differs from the single-rank run"
  checked=$((checked + 1))
}

check w1_accum3 1 4 false
for shard in false true; do
  check "w2_b6_shard_$shard" 2 6 "$shard"
  check "w2_b3_accum2_shard_$shard" 2 3 "$shard"
  check "w3_b4_shard_$shard" 3 4 "$shard"
  check "w3_b2_accum2_shard_$shard" 3 2 "$shard"
done
# Activation recomputation runs each block's forward again inside backward, between the
# points where gradient buckets start their sums: the sums must still see final gradients.
check w2_b3_accum2_recompute 2 3 false --set train.recompute=true
echo "$checked passed, 0 failed"
