#!/usr/bin/env bash
# molt's T5 v1.1 against an independent PyTorch implementation: loss, every gradient, and
# 10 AdamW steps — for T5 v1.1, each structure-ladder switch alone, the first three
# together (a decoder-only prefix-LM) and all four (a causal decoder-only model). The last
# two are also checked against a separately written decoder-only model.
set -euo pipefail
bin=$(dirname "$MOLT_BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for structure in 0 1 2 4 8 7 15; do
  echo "== structure $structure"
  "$bin/t5_oracle_dump_tool" "$work/t5-$structure.h5" "$structure"
  "${MOLT_PYTHON:-/usr/bin/python3}" "$MOLT_SOURCE_DIR/tests/model/t5_oracle.py" \
    "$work/t5-$structure.h5"
done
