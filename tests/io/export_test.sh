#!/usr/bin/env bash
# molt export writes the Hugging Face layout of both families (export_check.py):
#  1. decoder: GPT2LMHeadModel names and tensors (Conv1D weights transposed); the exported
#     model recomputes the run's final validation loss — with an independent torch GPT-2
#     here, and with transformers' GPT2LMHeadModel wherever transformers is importable;
#  2. encdec: a tiny-t5 run with span corruption; T5ForConditionalGeneration names and
#     config.json; the independent torch T5 of tests/model/t5_oracle.py reading the export
#     computes molt's loss on the batch `molt eval --dump-batch` wrote (and
#     T5ForConditionalGeneration does too wherever transformers is importable);
#  3. a path that is no checkpoint exits 2;
#  4. `molt eval --dump-batch X.json` writes the same batch and loss as the HDF5 dump, and
#     transformers_check.py (torch + transformers, no h5py: a GPU box's Python) loads each
#     export with from_pretrained and recomputes molt's loss on it (SKIP without transformers).
# MOLT_ALLOW_NO_H5PY=1 (scripts/gpu-session.sh, for a GPU box whose Python lacks h5py) skips
# the checks that read HDF5 (1, 2 and 4's comparison of the dumps) instead of failing them.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
passed=0
h5py=1
if ! "$PY" -c 'import h5py' 2>/dev/null; then
  [ "${MOLT_ALLOW_NO_H5PY:-0}" = 1 ] || fail "$PY cannot import h5py"
  h5py=0
  echo "SKIP: $PY has no h5py: the checks that read the checkpoints' HDF5 files are skipped"
fi

expect_files() {
  for f in model.safetensors config.json tokenizer.model; do
    [ -e "$1/$f" ] || fail "export $1 lacks $f"
  done
}

"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/gpt" --set train.steps=10) >/dev/null
"$MOLT_BIN" export "$WORK/gpt" "$WORK/hf-gpt" | grep GPT2LMHeadModel >/dev/null || fail "no GPT-2 export"
expect_files "$WORK/hf-gpt"
if [ $h5py = 1 ]; then
  "$PY" "$MOLT_SOURCE_DIR/tests/io/export_check.py" gpt2 "$WORK/gpt" "$WORK/hf-gpt" "$WORK/data" ||
    fail "the GPT-2 export does not match its run"
  passed=$((passed + 1))
fi

"$MOLT_BIN" train "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml" --set data.dataset="$WORK/data" \
  --set run.dir="$WORK/t5" --set data.seq_len=32 --set eval.batches=2 --set train.steps=10 >/dev/null
"$MOLT_BIN" export "$WORK/t5/checkpoints/step_00000010" "$WORK/hf-t5" |
  grep T5ForConditionalGeneration >/dev/null || fail "no T5 export"
expect_files "$WORK/hf-t5"
"$MOLT_BIN" eval "$WORK/t5" --batches 1 --dump-batch "$WORK/t5-batch.h5" >/dev/null
if [ $h5py = 1 ]; then
  "$PY" "$MOLT_SOURCE_DIR/tests/io/export_check.py" t5 "$WORK/t5" "$WORK/hf-t5" "$WORK/t5-batch.h5" ||
    fail "the T5 export does not match its run"
  passed=$((passed + 1))
fi

expect_status 2 "$MOLT_BIN" export "$WORK/nowhere" "$WORK/hf2"
passed=$((passed + 1))

"$MOLT_BIN" eval "$WORK/t5" --batches 1 --dump-batch "$WORK/t5-batch.json" >/dev/null
[ $h5py = 0 ] || "$PY" - "$WORK/t5-batch.h5" "$WORK/t5-batch.json" <<'PY' || fail "the JSON dump differs from the HDF5 one"
import json, sys
import h5py, numpy as np
h5, js = h5py.File(sys.argv[1], "r"), json.load(open(sys.argv[2]))
for key in ("inputs", "decoder_inputs", "targets"):
    assert np.array_equal(np.array(h5[key]), np.array(js[key])), key
for key in ("loss", "loss_nats", "counted_targets", "ignore_index"):
    assert h5.attrs[key] == js[key], (key, h5.attrs[key], js[key])
assert "prefix_lengths" not in js
PY
"$MOLT_BIN" eval "$WORK/gpt" --batches 1 --dump-batch "$WORK/gpt-batch.json" >/dev/null
"$PY" "$MOLT_SOURCE_DIR/tests/io/transformers_check.py" gpt2 "$WORK/hf-gpt" "$WORK/gpt-batch.json" ||
  fail "transformers' GPT2LMHeadModel disagrees with molt"
"$PY" "$MOLT_SOURCE_DIR/tests/io/transformers_check.py" t5 "$WORK/hf-t5" "$WORK/t5-batch.json" ||
  fail "transformers' T5ForConditionalGeneration disagrees with molt"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
