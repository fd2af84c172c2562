#!/usr/bin/env bash
# Faults during a checkpoint write (MOLT_CHECKPOINT_FAULT, io/file_fault_injection.h):
#   kill -9 in the middle of the step-10 write: `latest` still names step 5, it loads, and
#     a rerun resumes from it and reproduces the uninterrupted run's losses exactly;
#   a full disk while writing step 10 (injected ENOSPC, sync and async writers, and a real
#     tmpfs when this machine lets us mount one): exit 2 with one message naming the file,
#     `latest` still step 5, no step-10 folder and no .tmp left behind.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
args() { tiny_job_args "$WORK/data" "$1" --set train.steps=15 --set checkpoint.every=5 \
  --set checkpoint.keep_last=3 --set eval.every=5 "${@:2}"; }
"$MOLT_BIN" train $(args "$WORK/straight") >/dev/null

# A run folder after a failed step-10 write: step 5 complete and named by latest, nothing else.
only_step_5() {
  local run=$1
  [ "$(cat "$run/checkpoints/latest")" = "step_00000005" ] || fail "$run: latest is '$(cat "$run/checkpoints/latest")'"
  [ "$(ls "$run/checkpoints" | grep -v '\.tmp$' | tr '\n' ' ')" = "latest step_00000005 " ] ||
    fail "$run: checkpoints/ holds $(ls "$run/checkpoints" | tr '\n' ' ')"
  for f in model.h5 optim.h5 state.toml; do [ -s "$run/checkpoints/step_00000005/$f" ] || fail "step 5 lacks $f"; done
}

# kill -9 during the write.
set +e
MOLT_CHECKPOINT_FAULT=kill_during_write=10 "$MOLT_BIN" train $(args "$WORK/killed") >"$WORK/killed.log" 2>&1
status=$?
set -e
[ "$status" -eq 137 ] || { cat "$WORK/killed.log"; fail "exit $status, want 137 (SIGKILL)"; }
ls "$WORK/killed/checkpoints" | grep -q 'step_00000010.tmp' || fail "the kill did not land inside the write"
only_step_5 "$WORK/killed"
"$MOLT_BIN" train $(args "$WORK/killed") >"$WORK/rerun.log" 2>&1 || { cat "$WORK/rerun.log"; fail "rerun failed"; }
grep -q "resumed from .*step_00000005 at step 5" "$WORK/rerun.log" || fail "rerun did not resume from step 5"
[ "$(losses "$WORK/straight")" = "$(losses "$WORK/killed")" ] || fail "losses after the rerun differ"
[ ! -e "$WORK/killed/checkpoints/step_00000010.tmp" ] || fail "the crashed write's tmp folder was never cleared"

# Disk full (injected), synchronous and asynchronous writers.
for async in false true; do
  run=$WORK/full-$async
  expect_status 2 env MOLT_CHECKPOINT_FAULT=disk_full_at=10 "$MOLT_BIN" train $(args "$run" --set checkpoint.async=$async)
  grep -q "step_00000010.tmp/optim.h5: No space left on device" "$WORK/err.txt" ||
    { cat "$WORK/err.txt"; fail "async=$async: no message naming optim.h5 and ENOSPC"; }
  [ "$(grep -c . "$WORK/err.txt")" -eq 1 ] || { cat "$WORK/err.txt"; fail "async=$async: want one error line"; }
  only_step_5 "$run"
done

# Disk full for real: the run folder on a tmpfs with room for one checkpoint and a bit.
real=$WORK/tmpfs
mkdir -p "$real"
if mount -t tmpfs -o size=2600k tmpfs "$real" 2>/dev/null; then
  trap 'umount "$real" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
  expect_status 2 "$MOLT_BIN" train $(args "$real/run")
  grep -q "No space left\|cannot write\|HDF5" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "tmpfs: unclear message"; }
  grep -q "$real/run/checkpoints/step_00000010.tmp" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "tmpfs: message names no file"; }
  only_step_5 "$real/run"
  [ ! -e "$real/run/checkpoints/step_00000010.tmp" ] || fail "tmpfs: half-written step 10 left behind"
  "$MOLT_BIN" inspect "$real/run/checkpoints/step_00000005" >/dev/null 2>&1 || true
  echo "real tmpfs disk-full: $(head -n 1 "$WORK/err.txt")"
  umount "$real"
else
  echo "no tmpfs mount allowed here: the real disk-full case was skipped (injected cases ran)"
fi
echo "1 passed, 0 failed"
