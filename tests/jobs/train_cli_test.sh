#!/usr/bin/env bash
# molt train end to end: run folder contents, progress output, sample, --fresh, bad input,
# and a non-finite loss stopping the run with the last checkpoint intact.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
run="$WORK/run"

"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$run" --set train.steps=20 --set checkpoint.every=10) >"$WORK/train.log"
for f in run.toml metrics.jsonl summary.json tokenizer.model checkpoints/latest; do
  [ -e "$run/$f" ] || fail "missing $f in the run folder"
done
grep -q "step 20/20 | loss" "$WORK/train.log" || fail "no progress line for the last step"
"$PY" - "$run" <<'PY'
import json, sys
run = sys.argv[1]
lines = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
assert [l["step"] for l in lines] == list(range(1, 21)), "one metrics line per step"
for key in ("step", "tokens", "flops", "loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "wall_s"):
    assert key in lines[0], f"metrics line lacks {key}"
assert lines[-1]["loss"] < lines[0]["loss"], "loss did not fall"
s = json.load(open(f"{run}/summary.json"))
assert s["D"] == 20 * 8 * 32, s["D"]
assert s["N"] > s["N_nonembed"] > 0
assert abs(s["C"] - 20 * 8 * 32 * s["flops_per_token"]) < 1e-6 * s["C"]
assert s["val_loss"] is not None
print("run folder ok: loss", lines[0]["loss"], "->", lines[-1]["loss"])
PY

# train.recompute: the same losses bit for bit, the memory line, and a lower peak. The same run
# gives the CPU a peak (run.peak_tflops), so mfu is reported: none on the CPU otherwise.
"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/recompute" --set train.steps=20 --set train.recompute=true \
  --set run.peak_tflops=0.001) >"$WORK/recompute.log"
[ "$(losses "$run")" = "$(losses "$WORK/recompute")" ] || fail "train.recompute changed the losses"
grep -q "memory: peak .* MiB on cpu (parameters, gradients and optimizer" "$WORK/train.log" || fail "no memory line"
grep -q "recomputed in backward" "$WORK/recompute.log" || fail "no recompute note in the memory line"
"$PY" - "$run" "$WORK/recompute" <<'PY'
import json, sys
plain, recomputed = (json.load(open(f"{d}/summary.json")) for d in sys.argv[1:])
assert (plain["recompute"], recomputed["recompute"]) == (False, True)
assert 0 < recomputed["peak_memory_bytes"] < plain["peak_memory_bytes"], (plain, recomputed)
assert plain["mfu"] is None
assert abs(recomputed["mfu"] - recomputed["C"] / recomputed["wall_s"] / 1e9) < 1e-6 * recomputed["mfu"]
for run, peak in ((sys.argv[1], None), (sys.argv[2], 1e9)):
    for line in map(json.loads, open(f"{run}/metrics.jsonl")):
        if peak is None:
            assert line["mfu"] is None, line
        else:  # one rank: training FLOP/s over the peak
            want = line["tokens_per_s"] * plain["flops_per_token"] / peak
            assert abs(line["mfu"] - want) < 1e-9 * want, (line, want)
print("recompute ok: peak", plain["peak_memory_bytes"], "->", recomputed["peak_memory_bytes"], "bytes")
PY

# Under mpirun the rank's stdout is a pseudo-terminal even when the job's output goes to a
# file: the log must still hold plain lines only, no redrawn status line.
mpirun -np 1 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/mpi-run" --set train.steps=3 --set log.every=2) >"$WORK/mpi.log"
grep -q "step 3/3 | loss" "$WORK/mpi.log" || fail "no progress line under mpirun"
if grep -q $'\r' "$WORK/mpi.log"; then fail "carriage returns in a log written under mpirun"; fi

# sample from the run (latest checkpoint), deterministic for a seed
a=$("$MOLT_BIN" sample --checkpoint "$run" --prompt "The cat" --max-tokens 12 --seed 3)
b=$("$MOLT_BIN" sample --checkpoint "$run" --prompt "The cat" --max-tokens 12 --seed 3)
[ "$a" = "$b" ] || fail "sampling with the same seed differs"
case "$a" in "The cat"*) ;; *) fail "sample does not start with the prompt: $a" ;; esac

# --fresh refuses a run folder with checkpoints
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$run") --fresh
grep -q "already has checkpoints" "$WORK/err.txt" || fail "--fresh message"

# bad --set key and bad value
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/r2") --set optimizer.lrr=1
grep -q "optimizer.lrr" "$WORK/err.txt" || fail "unknown --set key not named"
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/r2") --set data.seq_len=100000
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/missing-data" "$WORK/r3")
[ ! -e "$WORK/r3/checkpoints" ] || fail "a failed start left checkpoints behind"

# non-finite loss: a huge learning rate without clipping blows up; exit 3, checkpoint intact
expect_status 3 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/nan" --set train.steps=40 \
  --set checkpoint.every=1 --set optimizer.lr=1e30 --set optimizer.grad_clip=0 --set schedule.warmup_steps=0)
grep -q "non-finite" "$WORK/out.txt" || fail "no non-finite message"
"$MOLT_BIN" sample --checkpoint "$WORK/nan" --max-tokens 2 >/dev/null || fail "latest checkpoint unusable after NaN stop"
echo "1 passed, 0 failed"
