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

# Train a small GPT on 2 MPI ranks (resumes if an earlier demo run was interrupted), then
# sample from it.
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # containers often deny CMA
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
ranks=${MOLT_DEMO_RANKS:-2}
mpirun --oversubscribe -np "$ranks" "$MOLT" train jobs/examples/demo-gpt.toml
echo
echo "demo: samples from runs/demo-gpt (temperature 0.8, top-k 40):"
for prompt in "The jury said" "In the morning"; do
  "$MOLT" sample --checkpoint runs/demo-gpt --prompt "$prompt" --max-tokens 40 --seed 1
done
echo
echo "demo: metrics in runs/demo-gpt/metrics.jsonl, summary in runs/demo-gpt/summary.json"
