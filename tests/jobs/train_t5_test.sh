#!/usr/bin/env bash
# The encoder-decoder end to end on the CPU backend, with span corruption:
#  1. the loss falls over 30 steps of tiny-t5 (mean of the last 5 steps below the first 5);
#  2. exact resume: 12 steps straight and 6 (--stop-at) + resume + 6 give bit-identical
#     losses and bit-identical final weights and optimizer moments;
#  3. the encdec prefix-LM objective trains too (its encoder/decoder split changes per step);
#  4. `molt sample` decodes from the checkpoint (encode once, KV-cached decoding);
#  5. the structure ladder's last rung (all four switches) trains on prefix_lm, records its
#     series for `molt fit`, samples, and refuses to export; misused switches exit 2.
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
ladder="--set model.share_cross_attention=true --set model.share_encoder_decoder=true \
  --set model.cross_attention_source=\"layerwise\" --set model.input_attention=\"causal\""
"$MOLT_BIN" train $(t5_args "$WORK/ladder" --set data.objective=prefix_lm --set train.steps=20 \
  --set checkpoint.every=20 --set eval.every=0 $ladder) >/dev/null || fail "the ladder's end did not train"
"$PY" - "$WORK/ladder" <<'PY' || fail "the ladder's end: loss or summary wrong"
import json, sys
losses = [json.loads(line)["loss"] for line in open(sys.argv[1] + "/metrics.jsonl")]
first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
print(f"ladder end: loss {first:.3f} -> {last:.3f}")
series = json.load(open(sys.argv[1] + "/summary.json"))["series"]
assert series == "encdec/shared-xattn+shared-stack+layerwise+causal-input", series
sys.exit(0 if last < first - 0.3 else 1)
PY
"$MOLT_BIN" sample --checkpoint "$WORK/ladder" --prompt "the" --max-tokens 6 --seed 1 \
  >"$WORK/ladder-sample.txt" || fail "molt sample failed on a structure variant"
expect_status 2 "$MOLT_BIN" export "$WORK/ladder" "$WORK/ladder-export"
grep -q "structure variant" "$WORK/err.txt" || fail "export of a variant: message does not say why"
expect_status 2 "$MOLT_BIN" train $(t5_args "$WORK/unequal" --set model.n_decoder_layer=3 \
  --set model.share_encoder_decoder=true)
grep -q "n_decoder_layer 3 != n_layer 2" "$WORK/err.txt" || fail "unequal depths: message"
expect_status 2 "$MOLT_BIN" train $(t5_args "$WORK/badsource" \
  --set model.cross_attention_source=\"middle\")
grep -q "cross_attention_source" "$WORK/err.txt" || fail "bad cross_attention_source: message"
expect_status 2 "$MOLT_BIN" train "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml" \
  --set data.dataset="$WORK/data" --set run.dir="$WORK/gptladder" --set model.share_cross_attention=true
grep -q "applies to model.family = \"encdec\" only" "$WORK/err.txt" || fail "decoder + switch: message"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
