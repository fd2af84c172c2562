#!/usr/bin/env bash
# molt export writes the Hugging Face GPT-2 layout: every tensor equals the checkpoint's
# (Conv1D weights transposed), and the exported model recomputes the run's final validation
# loss — with an independent torch GPT-2 that reads the HF layout here, and with
# transformers' GPT2LMHeadModel wherever transformers is importable (skipped otherwise).
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
"$MOLT_BIN" train $(tiny_job_args "$WORK/data" "$WORK/run" --set train.steps=10) >/dev/null
"$MOLT_BIN" export "$WORK/run" "$WORK/hf" >/dev/null
for f in model.safetensors config.json tokenizer.model; do
  [ -e "$WORK/hf/$f" ] || fail "export lacks $f"
done
expect_status 2 "$MOLT_BIN" export "$WORK/nowhere" "$WORK/hf2"
"$PY" "$MOLT_SOURCE_DIR/tests/io/export_check.py" "$WORK/run" "$WORK/hf" "$WORK/data"
echo "1 passed, 0 failed"
