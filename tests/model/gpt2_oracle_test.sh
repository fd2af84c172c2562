#!/usr/bin/env bash
# molt's GPT-2 against an independent PyTorch implementation: loss, every gradient, and
# 10 AdamW steps, for the causal LM and for the prefix-LM mask.
set -euo pipefail
bin=$(dirname "$MOLT_BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for variant in causal prefix; do
  echo "== $variant"
  "$bin/gpt2_oracle_dump_tool" "$work/$variant.h5" "$variant"
  "${MOLT_PYTHON:-/usr/bin/python3}" "$MOLT_SOURCE_DIR/tests/model/gpt2_oracle.py" "$work/$variant.h5"
done
