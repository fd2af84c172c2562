#!/usr/bin/env bash
# The encoder-decoder end to end on the CPU backend, with span corruption:
#  1. the loss falls over 30 steps of tiny-t5 (mean of the last 5 steps below the first 5);
#  2. exact resume: 12 steps straight and 6 (--stop-at) + resume + 6 give bit-identical
#     losses and bit-identical final weights and optimizer moments;
#  3. the encdec prefix-LM objective trains too (its encoder/decoder split changes per step);
#  4. `molt sample` decodes from the checkpoint (encode once, KV-cached decoding).
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

t5_args() {
  local run=$1
  shift
  echo "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml --set data.dataset=$WORK/data --set run.dir=$run \
    --set data.seq_len=32 --set eval.batches=2 $*"
}

passed=0
"$MOLT_BIN" train $(t5_args "$WORK/long" --set train.steps=30 --set checkpoint.every=0 --set eval.every=0) >/dev/null
"$PY" - "$WORK/long/metrics.jsonl" <<'PY' || fail "the encdec loss did not fall"
import json, sys
losses = [json.loads(line)["loss"] for line in open(sys.argv[1])]
first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
print(f"loss {first:.3f} -> {last:.3f}")
sys.exit(0 if last < first - 0.5 else 1)
PY
grep -q '"family": *"encdec"' "$WORK/long/summary.json" || fail "summary.json does not name the family"
passed=$((passed + 1))

args() { t5_args "$1" --set train.steps=12 --set checkpoint.every=6 --set eval.every=6 "${@:2}"; }
"$MOLT_BIN" train $(args "$WORK/straight") >/dev/null
expect_status 75 "$MOLT_BIN" train $(args "$WORK/split") --stop-at 6
"$MOLT_BIN" train $(args "$WORK/split") >"$WORK/resumed.log"
grep -q "resumed from" "$WORK/resumed.log" || fail "the second run did not resume"
[ "$(losses "$WORK/straight")" = "$(losses "$WORK/split")" ] || {
  paste <(losses "$WORK/straight") <(losses "$WORK/split")
  fail "losses differ between the straight and the resumed run"
}
"$PY" - "$WORK/straight/checkpoints/step_00000012" "$WORK/split/checkpoints/step_00000012" <<'PY'
import sys, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
for name in ("model.h5", "optim.h5"):
    fa, fb = h5py.File(f"{a}/{name}"), h5py.File(f"{b}/{name}")
    keys = []
    fa.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    assert keys, f"no datasets in {name}"
    for k in keys:
        if not np.array_equal(np.array(fa[k]), np.array(fb[k])):
            sys.exit(f"{name}:{k} differs after resume")
    print(f"{name}: {len(keys)} datasets bit-identical")
PY
passed=$((passed + 1))

"$MOLT_BIN" train $(t5_args "$WORK/prefix" --set data.objective=prefix_lm --set train.steps=6 \
  --set checkpoint.every=0 --set eval.every=0) >/dev/null || fail "encdec prefix_lm failed"
[ "$(losses "$WORK/prefix" | wc -l)" -eq 6 ] || fail "expected 6 metrics lines for prefix_lm"
passed=$((passed + 1))

"$MOLT_BIN" sample --checkpoint "$WORK/straight" --prompt "the" --max-tokens 8 --seed 1 \
  >"$WORK/sample.txt" || fail "molt sample failed on an encdec checkpoint"
[ -s "$WORK/sample.txt" ] || fail "molt sample printed nothing"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
