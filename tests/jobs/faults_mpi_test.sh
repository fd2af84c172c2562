#!/usr/bin/env bash
# Faults of a 2-rank mpirun job:
#   kill -9 rank 1 after the first checkpoint: mpirun ends the whole job (bound: 60 s, every
#     process gone); a rerun resumes from `latest` and gives exactly the losses of an
#     uninterrupted run, every step included;
#   the training shard overwritten with out-of-vocabulary ids mid-run: the job stops with the
#     reading rank's message naming the shard (bound: 60 s), no hang;
#   the shard missing at a restart: exit 2 naming it.
# Not covered, see docs/faults.md: a shard truncated under a running job reads as zeros.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
HANG_BOUND=60
args() { tiny_job_args "$WORK/$1" "$WORK/$2" --set train.steps=$3 --set checkpoint.every=5 \
  --set eval.every=0 "${@:4}"; }
mpi() { mpirun -np 2 "$@"; }

# rank_pid MPIRUN_PID RANK: the PID of that rank (a child of mpirun).
rank_pid() {
  local child
  for child in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -x "OMPI_COMM_WORLD_RANK=$2" >/dev/null; then
      echo "$child"; return 0
    fi
  done
  return 1
}

# run_until_first_checkpoint RUN ARGS...: starts mpirun in the background (sets JOB_PID).
start_job() {
  local run=$1
  shift
  mpirun -np 2 "$MOLT_BIN" train "$@" >"$run.log" 2>&1 &
  JOB_PID=$!
  local deadline=$((SECONDS + HANG_BOUND))
  until [ -f "$run/checkpoints/latest" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no first checkpoint within ${HANG_BOUND}s"
    kill -0 "$JOB_PID" 2>/dev/null || { cat "$run.log"; fail "the job ended before its first checkpoint"; }
    sleep 0.1
  done
}

# wait_bounded: waits for JOB_PID at most HANG_BOUND seconds; sets JOB_STATUS and ENDED_IN.
wait_bounded() {
  local t0=$SECONDS
  while kill -0 "$JOB_PID" 2>/dev/null; do
    if [ $((SECONDS - t0)) -ge $HANG_BOUND ]; then
      pkill -KILL -P "$JOB_PID" 2>/dev/null; kill -KILL "$JOB_PID" 2>/dev/null
      fail "the job still runs ${HANG_BOUND}s after the fault: it hangs"
    fi
    sleep 0.1
  done
  set +e; wait "$JOB_PID"; JOB_STATUS=$?; set -e
  ENDED_IN=$((SECONDS - t0))
}

# 1. kill -9 one rank.
mpi "$MOLT_BIN" train $(args data straight 150) >/dev/null 2>&1 || fail "the uninterrupted run failed"
start_job "$WORK/killed" $(args data killed 150)
victim=$(rank_pid "$JOB_PID" 1) || fail "cannot find rank 1 under mpirun $JOB_PID"
survivor=$(rank_pid "$JOB_PID" 0) || fail "cannot find rank 0"
kill -KILL "$victim"
wait_bounded
[ "$JOB_STATUS" -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
for _ in $(seq 100); do kill -0 "$survivor" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$survivor" 2>/dev/null || fail "rank 0 still runs 10 s after mpirun ended"
echo "kill -9 rank 1: the job ended in ${ENDED_IN}s (status $JOB_STATUS)"
resume_step=$(sed 's/step_0*//' "$WORK/killed/checkpoints/latest")
mpi "$MOLT_BIN" train $(args data killed 150) >"$WORK/rerun.log" 2>&1 || { cat "$WORK/rerun.log"; fail "rerun failed"; }
grep -q "resumed from .* at step $resume_step " "$WORK/rerun.log" || fail "rerun did not resume from step $resume_step"
[ "$(losses "$WORK/straight")" = "$(losses "$WORK/killed")" ] || {
  paste <(losses "$WORK/straight") <(losses "$WORK/killed") >&2; fail "losses differ after the rerun"; }
echo "rerun resumed at step $resume_step; all 150 losses identical to the uninterrupted run"

# 2. The shard is corrupted under a running job.
shard_offsets() {  # the file offsets and byte sizes of /tokens' storage, one "offset size" a line
  "$PY" - "$1" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r", locking=False) as f:
    d = f["tokens"]
    if d.chunks is None:
        print(d.id.get_offset(), d.id.get_storage_size())
    else:
        for i in range(d.id.get_num_chunks()):
            c = d.id.get_chunk_info(i)
            print(c.byte_offset, c.size)
PY
}
for damage in corrupt; do
  cp -r "$WORK/data" "$WORK/data-$damage"
  shard=$WORK/data-$damage/train-00000.h5
  offsets=$(shard_offsets "$shard")
  start_job "$WORK/$damage" $(args "data-$damage" "$damage" 100000)
  echo "$offsets" | "$PY" -c 'import sys
f = open(sys.argv[1], "r+b")
for line in sys.stdin:
    offset, size = map(int, line.split())
    f.seek(offset); f.write(b"\xff" * size)' "$shard"
  wait_bounded
  [ "$JOB_STATUS" -ne 0 ] || fail "$damage: the job went on to exit 0"
  grep -q "molt: error: .*$shard" "$WORK/$damage.log" || { tail -n 20 "$WORK/$damage.log"; fail "$damage: no message naming $shard"; }
  echo "shard $damage mid-run: ended in ${ENDED_IN}s, status $JOB_STATUS: $(grep -m1 'molt: error' "$WORK/$damage.log")"
done

# 3. The shard gone at a restart.
rm "$WORK/data-corrupt/train-00000.h5"
expect_status 2 mpi "$MOLT_BIN" train $(args data-corrupt corrupt 100000)
grep -q "train-00000.h5" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "missing shard: not named"; }
echo "1 passed, 0 failed"
