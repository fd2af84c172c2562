#!/usr/bin/env bash
# The end-to-end demo behind `make demo`: Brown corpus -> tokenizer + shards -> inspect ->
# (train). Usage: scripts/demo.sh path/to/molt
# Each step is skipped when its output already exists, so a second run goes straight on.
set -euo pipefail
MOLT=${1:?usage: scripts/demo.sh path/to/molt}
MOLT=$(cd "$(dirname "$MOLT")" && pwd)/$(basename "$MOLT")
cd "$(dirname "$0")/.."

# Debian packages are installed by `make demo` (scripts/install-deps.sh) before this runs.
bash scripts/fetch-brown.sh

if [ -f data/brown/dataset.toml ]; then
  echo "demo: data/brown already prepared"
else
  # 8192-token BPE; 100 sentinel ids at the top of the vocab for T5 span corruption.
  "$MOLT" prep data/brown-text -o data/brown --vocab-size 8192 --model-type bpe \
    --sentinels 100 --seed 1
fi
"$MOLT" inspect data/brown

# ---------------------------------------------------------------------------------------
# Training step: added by the trainer's owner (e.g. `"$MOLT" train jobs/examples/...`).
# ---------------------------------------------------------------------------------------
