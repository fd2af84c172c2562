#!/usr/bin/env bash
# molt eval recomputes what the trainer measured, for both families:
#  1. a decoder run (causal) and an encdec run (span corruption): `molt eval RUN` gives the
#     final val_loss of summary.json (same batches, same sums, one process);
#  2. --dump-batch writes the first micro-batch as the model saw it, with molt's loss on it:
#     shapes, the objective's shifts, and the loss of the dump equal to a one-micro-batch
#     eval's (global batch = micro-batch);
#  3. user errors (no checkpoint, unknown split, missing dataset) exit 2 with a message.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
passed=0

# close A B: |A - B| <= 1e-6 |B|
close() {
  "$PY" -c 'import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if abs(a - b) <= 1e-6 * abs(b) else 1)' "$1" "$2"
}
eval_loss() { "$MOLT_BIN" eval "$@" | sed -n 's/^loss=//p'; }
summary_val() { "$PY" -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))["val_loss"]))' "$1/summary.json"; }

"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/gpt" --set train.steps=6) >/dev/null
"$MOLT_BIN" train "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml" --set data.dataset="$WORK/data" \
  --set run.dir="$WORK/t5" --set data.seq_len=32 --set eval.batches=2 --set train.steps=6 >/dev/null
for run in gpt t5; do
  molt=$(eval_loss "$WORK/$run")
  trainer=$(summary_val "$WORK/$run")
  close "$molt" "$trainer" || fail "$run: molt eval gives $molt, the trainer's val_loss was $trainer"
  echo "$run: molt eval $molt, trainer $trainer"
done
passed=$((passed + 1))

for run in gpt t5; do
  "$MOLT_BIN" eval "$WORK/$run" --batches 1 --dump-batch "$WORK/$run.h5" >/dev/null
  "$PY" - "$WORK/$run.h5" "$run" <<'PY' || fail "$run: the dumped batch is wrong"
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
family = sys.argv[2]
x, y = np.array(f["inputs"]), np.array(f["targets"])
assert f.attrs["ignore_index"] == -1
assert f.attrs["counted_targets"] == int((y != -1).sum()), "counted_targets"
assert abs(f.attrs["loss"] - f.attrs["loss_nats"] / f.attrs["counted_targets"]) < 1e-12
if family == "gpt":
    assert x.shape == (4, 32) and y.shape == (4, 32), (x.shape, y.shape)
    assert "decoder_inputs" not in f and "prefix_lengths" not in f
    assert (x[:, 1:] == y[:, :-1]).all(), "targets are not the inputs shifted by one"
else:
    d = np.array(f["decoder_inputs"])
    assert x.shape[1] == 32 and d.shape == y.shape, (x.shape, d.shape, y.shape)
    assert (d[:, 0] == 0).all() and (d[:, 1:] == y[:, :-1]).all(), "decoder_inputs != [pad, targets[:-1]]"
    assert (x >= 512 - 8).any(), "no sentinel in the span-corrupted inputs"
print(f"{family}: dump {x.shape} loss {f.attrs['loss']:.7f}")
PY
done
# With the global batch equal to the micro-batch, one global batch is the dumped batch; the
# checkpoint is named by its folder (trailing slash and all) rather than by its run.
"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/gpt1" --set train.steps=2 --set batch.global_batch=4 --set batch.micro_batch=4) >/dev/null
"$MOLT_BIN" eval "$WORK/gpt1/checkpoints/step_00000002/" --batches 1 --dump-batch "$WORK/gpt1.h5" >"$WORK/gpt1.txt"
"$PY" - "$WORK/gpt1.h5" "$(sed -n 's/^loss=//p' "$WORK/gpt1.txt")" <<'PY' || fail "the dump's loss is not the eval's"
import sys, h5py
loss, printed = h5py.File(sys.argv[1], "r").attrs["loss"], float(sys.argv[2])
sys.exit(0 if abs(loss - printed) <= 1e-6 * printed else 1)
PY
passed=$((passed + 1))

expect_status 2 "$MOLT_BIN" eval "$WORK/nowhere"
grep -q "nowhere" "$WORK/err.txt" || fail "the error does not name the path"
expect_status 2 "$MOLT_BIN" eval "$WORK/gpt" --split test
expect_status 2 "$MOLT_BIN" eval "$WORK/gpt" --dataset "$WORK/no-data"
grep -q "no-data" "$WORK/err.txt" || fail "the error does not name the dataset"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
