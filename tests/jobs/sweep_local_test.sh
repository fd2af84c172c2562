#!/usr/bin/env bash
# molt sweep --local on a tiny IsoFLOP grid and a tiny WSD grid: runs finish, budgets are met
# within the rounding bound, a second sweep skips finished runs, a run stopped with --stop-at
# resumes, WSD branches start exactly from their trunk checkpoint, and molt fit reads the runs.
source "$(dirname "$0")/../fixtures/common.sh"
make_dataset "$WORK/data"
cd "$WORK"

common_set() {
  cat <<TOML
[set.data]
dataset = "$WORK/data"
seq_len = 32
[set.model]
n_ctx = 32
[set.eval]
every = 0
batches = 2
[set.checkpoint]
every = 5
[set.schedule]
warmup_steps = 2
TOML
}

cat >iso.toml <<TOML
base = "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml"
out = "iso"
$(common_set)
[grid]
models = [{ d_model = 16, n_layer = 1, n_head = 2 }, { d_model = 32, n_layer = 1, n_head = 2 }]
flops = [4e8, 8e8]
min_steps = 4
TOML
expect_status 0 "$MOLT_BIN" sweep iso.toml
[ "$(grep -vc '^#' iso/runs.txt)" -eq 4 ] || fail "iso/runs.txt should list 4 runs"
# plan.txt's memory column is molt memory's total for each run's own job (3 digits, GiB).
sized=0
while read -r kind name _ _ _ _ _ _ _ gib _; do
  [ "$kind" = run ] || continue
  sized=$((sized + 1))
  bytes=$("$MOLT_BIN" memory "iso/runs/$name/job.toml" | sed -n 's/^total_bytes=//p')
  "$PY" -c 'import sys; got, want = float(sys.argv[1]), int(sys.argv[2]) / 2**30
sys.exit(0 if abs(got - want) <= 5e-3 * want else 1)' "$gib" "$bytes" ||
    fail "plan.txt says $gib GiB for $name, molt memory $bytes bytes"
done <iso/plan.txt
[ "$sized" -eq 4 ] || fail "plan.txt lists $sized runs, want 4"
first=$(grep -v '^#' iso/runs.txt | head -1)
expect_status 75 "$MOLT_BIN" train "$first" --stop-at 3
expect_status 0 "$MOLT_BIN" sweep iso.toml --local
grep -q "resumed from .* at step 3" "$WORK/err.txt" "$WORK/out.txt" || fail "the stopped run did not resume"
"$PY" - <<'PY' || fail "IsoFLOP budgets"
import json, glob
runs = sorted(glob.glob("iso/runs/*/summary.json"))
assert len(runs) == 4, runs
for path in runs:
    s = json.load(open(path))
    assert s["sweep"] == "iso", s
    tolerance = 0.5 / s["steps"]
    assert abs(s["C"] / s["budget"] - 1) <= tolerance + 1e-12, (path, s["C"], s["budget"])
PY
stamp=$(stat -c %Y iso/runs/*/summary.json | sort | tail -1)
expect_status 0 "$MOLT_BIN" sweep iso.toml --local
[ "$(grep -c 'finished, skipped' "$WORK/out.txt")" -eq 4 ] || fail "second sweep should skip all 4"
[ "$(stat -c %Y iso/runs/*/summary.json | sort | tail -1)" = "$stamp" ] || fail "a finished run was retrained"
expect_status 0 "$MOLT_BIN" fit iso/runs --out "$WORK/fit"
[ -s "$WORK/fit/fit.json" ] || fail "molt fit wrote no fit.json"

cat >wsd.toml <<TOML
base = "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml"
out = "wsd"
$(common_set)
[grid]
models = [{ d_model = 16, n_layer = 1, n_head = 2 }]
tokens = [5120, 10240]
min_steps = 4
[wsd]
cooldown_fraction = 0.25
TOML
expect_status 0 "$MOLT_BIN" sweep wsd.toml --local
"$PY" - <<'PY' || fail "WSD branches"
import json
trunk = [json.loads(l) for l in open("wsd/trunks/d16-l1/metrics.jsonl")]
for name, step, steps in (("d16-l1-D5.12e3", 15, 20), ("d16-l1-D1.02e4", 30, 40)):
    s = json.load(open(f"wsd/runs/{name}/summary.json"))
    assert s["trunk"] == "wsd/trunks/d16-l1" and s["branch_step"] == step, s
    assert s["steps"] == steps and s["D"] == steps * 8 * 32, s
    first = json.loads(open(f"wsd/runs/{name}/metrics.jsonl").readline())
    assert first["step"] == step + 1, first
    same = [l for l in trunk if l["step"] == step + 1]
    if same:  # the first step's loss uses the trunk's weights at the branch point
        assert first["loss"] == same[0]["loss"], (first, same[0])
        assert first["lr"] < same[0]["lr"], (first, same[0])
PY
echo PASS
