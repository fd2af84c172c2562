#!/usr/bin/env bash
# Resume across world sizes: a run trained on W=2 (sharded optimizer) and stopped after
# step 4 resumes on W=1 and on W=3 with the same global batch. The data stream continues
# exactly (the loader position depends on step and global batch only) and the ZeRO-1 state
# is re-sliced for the new world, so the losses of steps 5..8 and the final weights and
# moments match the uninterrupted W=2 run within the fp32 reduction-order tolerance of
# dp_equivalence_test.sh (1e-6 per loss, 5e-5 per weight/moment). Steps 1..4 come from
# the same files and are identical.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

job() { tiny_job_args "$WORK/data" "$1" --set train.steps=8 --set batch.global_batch=12 \
  --set checkpoint.every=4 --set eval.every=0 --set dist.shard_optimizer=true "${@:2}"; }
mpi() { local world=$1; shift; mpirun --oversubscribe --bind-to none -np "$world" "$@"; }

mpi 2 "$MOLT_BIN" train $(job "$WORK/straight" --set batch.micro_batch=6) >/dev/null \
  || fail "uninterrupted W=2 run failed"
expect_status 75 mpi 2 "$MOLT_BIN" train $(job "$WORK/split" --set batch.micro_batch=6) --stop-at 4
[ "$(losses "$WORK/split" | wc -l)" -eq 4 ] || fail "the stopped run should have logged 4 steps"

resume() {  # resume NAME W MICRO
  local run="$WORK/$1"
  cp -r "$WORK/split" "$run"
  if [ "$2" -eq 1 ]; then
    "$MOLT_BIN" train $(job "$run" --set batch.micro_batch="$3") >"$WORK/$1.log" 2>&1
  else
    mpi "$2" "$MOLT_BIN" train $(job "$run" --set batch.micro_batch="$3") >"$WORK/$1.log" 2>&1
  fi || { cat "$WORK/$1.log"; fail "$1: resumed run failed"; }
  grep -q "written by 2 rank(s), now $2" "$WORK/$1.log" || { cat "$WORK/$1.log"; fail "$1: did not resume from the W=2 checkpoint"; }
  [ "$(losses "$WORK/straight" | sed -n 1,4p)" = "$(losses "$run" | sed -n 1,4p)" ] \
    || fail "$1: the first 4 losses changed"
  "$PY" "$MOLT_SOURCE_DIR/tests/dist/compare_runs.py" "$WORK/straight" "$run" 1e-6 5e-5 "$4" \
    || fail "$1 does not continue the W=2 run"
}
resume w1 1 12 1   # one rank holds the whole optimizer state again
resume w3 3 4 3    # three shards cut from the two written by W=2
echo "2 passed, 0 failed"
