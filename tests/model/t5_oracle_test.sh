#!/usr/bin/env bash
# molt's T5 v1.1 against an independent PyTorch implementation: loss, every gradient, and
# 10 AdamW steps.
set -euo pipefail
bin=$(dirname "$MOLT_BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/t5_oracle_dump_tool" "$work/t5.h5"
"${MOLT_PYTHON:-/usr/bin/python3}" "$MOLT_SOURCE_DIR/tests/model/t5_oracle.py" "$work/t5.h5"
