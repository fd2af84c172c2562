#!/usr/bin/env bash
# Data-parallel equivalence for the encoder-decoder: 2 ranks x micro-batch 4, 2 ranks x 2 x 2
# accumulation steps (also with activation recomputation), and 2 ranks x 4 with the ZeRO-1
# sharded optimizer train the same tiny T5 as 1 rank x 8 on span corruption.
# Every run sees the same 8 examples per step (span corruption is a function of the global
# sample index, not of the rank), so only the order of fp32 gradient sums differs. The
# tolerances are the decoder's (dp_equivalence_test.sh): 2e-5 on every step's loss, 2e-4 on
# every weight and moment — far below what a wrong slice, a rank-dependent corruption or
# a missing rank's gradient would cause.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

job() {
  echo "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml --set data.dataset=$WORK/data --set run.dir=$1 \
    --set data.seq_len=32 --set eval.batches=2 --set train.steps=6 --set batch.global_batch=8 \
    --set checkpoint.every=0 --set eval.every=0 --set dist.bucket_mb=0.01 ${*:2}"
}
"$MOLT_BIN" train $(job "$WORK/ref" --set batch.micro_batch=8) >/dev/null || fail "reference run failed"
checked=0
# The last case also recomputes activations in backward (train.recompute), between the
# points where gradient buckets start their sums.
for case in 4:false:false 2:false:false 4:true:false 2:false:true; do
  IFS=: read -r micro shard recompute <<<"$case"
  run="$WORK/w2_b${micro}_shard_${shard}_recompute_${recompute}"
  mpirun --oversubscribe --bind-to none -np 2 "$MOLT_BIN" train \
    $(job "$run" --set batch.micro_batch=$micro --set dist.shard_optimizer=$shard \
      --set train.recompute=$recompute) \
    >"$run.log" 2>&1 || { cat "$run.log"; fail "2 ranks x $micro (shard $shard): training failed"; }
  grep -q "2 rank(s) x $micro seq" "$run.log" || { cat "$run.log"; fail "not 2 ranks x $micro"; }
  shards=1
  [ "$shard" = true ] && shards=2
  "$PY" "$MOLT_SOURCE_DIR/tests/dist/compare_runs.py" "$WORK/ref" "$run" 2e-5 2e-4 $shards \
    || fail "2 ranks x $micro (shard $shard) differs from the single-rank run"
  checked=$((checked + 1))
done
echo "$checked passed, 0 failed"
