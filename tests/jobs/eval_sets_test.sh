#!/usr/bin/env bash
# Named validation sets ([eval.sets], jobs/eval_sets.h):
#  1. two sets prepared with the training tokenizer from different text: metrics.jsonl has
#     val/A and val/B on evaluation lines only, summary.json has the final ones, the sets'
#     losses differ, training and val_loss are unchanged by them; A (with a val split) reads
#     val, B (whose val document is shorter than a window) reads train;
#  2. the sets are sliced over ranks like the main val: 2 ranks give the 1-rank losses;
#  3. `molt plot` draws the val/NAME curves;
#  4. user errors exit 2 naming the set or key: another tokenizer (both hashes named), a
#     missing dataset, an invalid or unknown name (from --set and from a job file's line).
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
passed=0
prep_with_training_tokenizer() {  # CORPUS OUT [--val-fraction F]
  local corpus=$1 out=$2
  shift 2
  "$MOLT_BIN" prep "$corpus" -o "$out" --tokenizer "$WORK/data/tokenizer.model" --sentinels 8 "$@" \
    >/dev/null 2>&1 || fail "molt prep --tokenizer $corpus failed"
}

# A: the same grammar from another seed, with a held-out val split.
"$PY" "$MOLT_SOURCE_DIR/tests/fixtures/make_corpus.py" "$WORK/corpus-a" 80 7 >/dev/null
prep_with_training_tokenizer "$WORK/corpus-a" "$WORK/set-a" --val-fraction 0.2
# B: text unlike the training corpus (short arithmetic lines), one tiny val document.
"$PY" - "$WORK/corpus-b" <<'PY'
import os, random, sys
rng = random.Random(3)
os.makedirs(sys.argv[1])
for d in range(60):
    with open(os.path.join(sys.argv[1], f"doc{d:03d}.txt"), "w") as f:
        f.write(" ".join(f"{rng.randint(0, 99)} plus {rng.randint(0, 99)};" for _ in range(2)) + "\n")
PY
prep_with_training_tokenizer "$WORK/corpus-b" "$WORK/set-b" --val-fraction 0

sets="--set eval.sets.A=$WORK/set-a --set eval.sets.B=$WORK/set-b"
"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/run" --set train.steps=6 --set eval.every=3 $sets) \
  >"$WORK/train.txt" 2>&1 || { cat "$WORK/train.txt"; fail "training with eval sets failed"; }
grep -q "eval set val/A: .*set-a (val split" "$WORK/train.txt" || { cat "$WORK/train.txt"; fail "set A does not read its val split"; }
grep -q "eval set val/B: .*set-b (train split" "$WORK/train.txt" || { cat "$WORK/train.txt"; fail "set B does not read its train split"; }
"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/plain" --set train.steps=6 --set eval.every=3) >/dev/null
"$PY" - "$WORK/run" "$WORK/plain" <<'PY' || fail "val/NAME keys are wrong"
import json, math, sys
run, plain = ([json.loads(l) for l in open(f"{d}/metrics.jsonl")] for d in sys.argv[1:3])
for line in run:
    evaluated = line["val_loss"] is not None
    for key in ("val/A", "val/B"):
        assert (key in line) == evaluated, f"step {line['step']}: {key} present={key in line}"
        if evaluated:
            assert math.isfinite(line[key]) and line[key] > 0, line
assert [l["step"] for l in run if l["val_loss"] is not None] == [3, 6]
summary = json.load(open(f"{sys.argv[1]}/summary.json"))
last = run[-1]
for key in ("val/A", "val/B", "val_loss"):
    assert summary[key] == last[key], (key, summary[key], last[key])
assert abs(last["val/A"] - last["val/B"]) > 1e-3, "the two sets give the same loss"
# Sets are read-only: training and the main validation loss are the run's without sets.
for a, b in zip(run, plain):
    assert a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"], (a, b)
print("val/A", last["val/A"], "val/B", last["val/B"], "val_loss", last["val_loss"])
PY
grep -q "^sets = { A = " "$WORK/run/run.toml" || fail "run.toml does not record the sets"
passed=$((passed + 1))

if mpirun --version >/dev/null 2>&1; then
  mpirun -np 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/run2" --set train.steps=6 \
    --set eval.every=3 $sets) >/dev/null 2>&1 || fail "2-rank training with eval sets failed"
  "$PY" - "$WORK/run" "$WORK/run2" <<'PY' || fail "2 ranks give other val/NAME losses than 1"
import json, sys
one, two = (json.load(open(f"{d}/summary.json")) for d in sys.argv[1:3])
for key in ("val/A", "val/B", "val_loss"):
    assert abs(one[key] - two[key]) <= 1e-4 * one[key], (key, one[key], two[key])
PY
  passed=$((passed + 1))
fi

if command -v gnuplot >/dev/null; then
  "$MOLT_BIN" plot "$WORK/run" --out "$WORK/plot/loss.png" >/dev/null
  [ -s "$WORK/plot/loss.png" ] && [ -s "$WORK/plot/loss_data/run0_val_A.dat" ] &&
    [ -s "$WORK/plot/loss_data/run0_val_B.dat" ] || fail "molt plot drew no val/NAME curves"
  passed=$((passed + 1))
fi

# Another tokenizer, trained on set A's text with a smaller vocabulary.
"$MOLT_BIN" prep "$WORK/corpus-a" -o "$WORK/set-c" --vocab-size 400 --sentinels 8 >/dev/null 2>&1 ||
  fail "molt prep of another tokenizer failed"
tokenizer_hash() { sed -n "s/^tokenizer_sha256 = [\"']\([0-9a-f]*\)[\"']/\1/p" "$1/dataset.toml"; }
[ -n "$(tokenizer_hash "$WORK/data")" ] || fail "no tokenizer_sha256 in $WORK/data/dataset.toml"
[ "$(tokenizer_hash "$WORK/set-c")" != "$(tokenizer_hash "$WORK/data")" ] || fail "the test needs two tokenizers"
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/bad" --set eval.sets.other=$WORK/set-c)
for want in "eval.sets.other" "$(tokenizer_hash "$WORK/set-c")" "$(tokenizer_hash "$WORK/data")"; do
  grep -qF -- "$want" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "the error does not name $want"; }
done
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/bad" --set eval.sets.gone=$WORK/nowhere)
grep -q "eval.sets.gone" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "a missing set is not named"; }
passed=$((passed + 1))

expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/bad" --set eval.sets.a/b=$WORK/set-a)
grep -q "eval.sets.a/b" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "an invalid name is not named"; }
expect_status 2 "$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/bad" --set eval.set.A=$WORK/set-a)
grep -q "unknown key eval.set.A" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "an unknown key is not named"; }
{ cat "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml"; printf '\n[eval.sets]\n"two words" = "x"\n'; } >"$WORK/job.toml"
expect_status 2 "$MOLT_BIN" train "$WORK/job.toml"
line=$(grep -n '"two words"' "$WORK/job.toml" | cut -d: -f1)
grep -q "job.toml:$line:1: eval.sets.two words" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "the bad name's line is not given"; }
passed=$((passed + 1))
echo "$passed passed, 0 failed"
