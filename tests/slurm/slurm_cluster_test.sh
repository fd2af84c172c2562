#!/usr/bin/env bash
# slurm/*.sbatch on a real Slurm (munged + slurmctld + slurmd on localhost, see cluster.sh):
#   1. train.sbatch runs a 2-task job to the end;
#   2. the same job, preempted after its first checkpoint with `scancel --signal=USR1 --batch`,
#      checkpoints, requeues itself, resumes and ends with exactly the losses of run 1;
#   3. sweep-array.sbatch trains a 3-line run list as a 3-task array (launched by mpirun).
# Needs slurm-wlm and munge (scripts/install-deps.sh) and root (the daemons run as root).
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
source "$MOLT_SOURCE_DIR/tests/slurm/cluster.sh"
for tool in slurmctld slurmd munged mungekey sbatch; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
[ "$(id -u)" -eq 0 ] || fail "the localhost Slurm cluster needs root"

trap 'stop_cluster; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
chmod 755 "$WORK"  # munged wants every folder above its socket searchable by all
start_cluster "$WORK/c"
cd "$WORK"
export MOLT_BIN MOLT_SLURM_DIR="$MOLT_SOURCE_DIR/slurm"
make_dataset "$WORK/data"
STEPS=60
job_args() { tiny_job_args "$WORK/data" "$1" --set train.steps=$STEPS --set checkpoint.every=5 \
  --set eval.every=20 "${@:2}"; }
# The time limit must exceed the scripts' --signal=B:USR1@600, or Slurm preempts them itself.
submit() { sbatch --parsable --time=60 "$@"; }
show_output() { echo "--- $1 ---" >&2; cat "$1" >&2 || true; }

# 1. An uninterrupted 2-task run.
t0=$SECONDS
id=$(submit -n 2 -o "$WORK/straight.out" "$MOLT_SOURCE_DIR/slurm/train.sbatch" $(job_args "$WORK/straight"))
wait_job "$id" 120
[ "$(job_field "$id" JobState)" = "COMPLETED" ] || { show_output "$WORK/straight.out"; fail "job $id: $(job_field "$id" JobState)"; }
grep -q "2 rank(s)" "$WORK/straight.out" || { show_output "$WORK/straight.out"; fail "not 2 ranks"; }
[ "$(losses "$WORK/straight" | wc -l)" -eq $STEPS ] || fail "uninterrupted run: expected $STEPS metrics lines"
echo "1. train.sbatch, 2 tasks: done in $((SECONDS - t0)) s"

# 2. Preempted after its first checkpoint, requeued, resumed.
t0=$SECONDS
id=$(submit -n 2 -o "$WORK/preempted.out" "$MOLT_SOURCE_DIR/slurm/train.sbatch" $(job_args "$WORK/preempted"))
wait_for 120 "first checkpoint of job $id" test -f "$WORK/preempted/checkpoints/latest"
scancel --signal=USR1 --batch "$id" || fail "scancel --signal=USR1 --batch $id failed"
wait_job "$id" 120
out="$WORK/preempted.out"
[ "$(job_field "$id" JobState)" = "COMPLETED" ] || { show_output "$out"; fail "job $id: $(job_field "$id" JobState)"; }
[ "$(job_field "$id" Restarts)" = "1" ] || { show_output "$out"; fail "job $id restarted $(job_field "$id" Restarts) times, want 1"; }
stopped=$(sed -n 's/.*stopped on request at step \([0-9]*\).*/\1/p' "$out")
resumed=$(sed -n 's/.*resumed from .* at step \([0-9]*\) .*/\1/p' "$out")
[ -n "$stopped" ] && [ "$stopped" -lt $STEPS ] || { show_output "$out"; fail "the job was not stopped mid-run"; }
[ "$resumed" = "$stopped" ] || { show_output "$out"; fail "resumed at step '$resumed', stopped at '$stopped'"; }
grep -q "caught SIGUSR1" "$out" || { show_output "$out"; fail "the batch script did not catch SIGUSR1"; }
grep -q "restart 1:" "$out" || { show_output "$out"; fail "no second start in the output (SLURM_RESTART_COUNT)"; }
[ "$(losses "$WORK/straight")" = "$(losses "$WORK/preempted")" ] || {
  paste <(losses "$WORK/straight") <(losses "$WORK/preempted") >&2
  fail "the preempted run's losses differ from the uninterrupted run's"
}
final() { "$PY" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["final_loss"]))' "$1/summary.json"; }
[ "$(final "$WORK/straight")" = "$(final "$WORK/preempted")" ] || fail "final losses differ"
echo "2. preempted at step $stopped, requeued, resumed, same $STEPS losses: $((SECONDS - t0)) s"

# 3. A 3-task sweep array from a run list (comments and blank lines skipped).
t0=$SECONDS
cat >"$WORK/runs.txt" <<EOF
# three tiny runs of one sweep
$(tiny_job_args "$WORK/data" "$WORK/sweep/a" --set train.steps=4)

$(tiny_job_args "$WORK/data" "$WORK/sweep/b" --set train.steps=4 --set model.d_model=32)
$(tiny_job_args "$WORK/data" "$WORK/sweep/c" --set train.steps=4 --set model.n_layer=1)
EOF
id=$(MOLT_LAUNCHER=mpirun submit --array=0-2 -n 1 -o "$WORK/sweep-%a.out" \
  "$MOLT_SOURCE_DIR/slurm/sweep-array.sbatch" "$WORK/runs.txt" --set eval.every=2)
wait_job "$id" 120
for i in 0 1 2; do
  run=$WORK/sweep/$(echo a b c | cut -d' ' -f$((i + 1)))
  [ -f "$run/summary.json" ] || { show_output "$WORK/sweep-$i.out"; fail "array task $i did not finish $run"; }
  grep -q "mpirun -np 1" "$WORK/sweep-$i.out" || fail "array task $i was not launched by mpirun"
  "$PY" -c 'import json,sys; assert json.loads(open(sys.argv[1]).readlines()[1])["val_loss"]' \
    "$run/metrics.jsonl" || fail "the extra args (eval.every=2) were not applied to task $i"
done
grep -q '"N": 134912' "$WORK/sweep/a/summary.json" || fail "run a has the wrong model"
grep -q '"N": 134912' "$WORK/sweep/b/summary.json" && fail "run b did not take its --set"
echo "3. sweep-array.sbatch, 3 tasks: $((SECONDS - t0)) s"
echo "1 passed, 0 failed"
