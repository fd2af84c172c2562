#!/usr/bin/env bash
# molt vs PyTorch eager on the CPU, the same models, the same threads, random tokens, one run
# each; prints tokens/s of each and the ratio molt/PyTorch:
#   GPT-2: d_model 256, 4 layers, 4 heads, n_ctx 256, micro-batch 8, vocab 8192;
#   T5 v1.1: d_model 256, d_ff 512 (gated), 4 heads of 32, 3+3 layers, encoder 256 / decoder
#     64 tokens, micro-batch 8, vocab 8192 (tokens/s counts encoder and decoder tokens).
# A benchmark, not a test: run it on an otherwise idle machine.
#   scripts/bench-cpu.sh [MOLT_BIN] [THREADS] [STEPS] [FAMILIES]    FAMILIES: "gpt2 t5" (default)
set -euo pipefail
bin=${1:-build/bin/molt}
threads=${2:-$(nproc)}
steps=${3:-10}
families=${4:-gpt2 t5}
here=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE

# compare LABEL MOLT_OUTPUT TORCH_OUTPUT
compare() {
  echo "$2" | grep -v "^[a-z_]*="
  echo "$3" | grep -v "^[a-z_]*="
  local molt_tps torch_tps
  molt_tps=$(echo "$2" | sed -n 's/^tokens_per_s=//p')
  torch_tps=$(echo "$3" | sed -n 's/^tokens_per_s=//p')
  awk -v l="$1" -v m="$molt_tps" -v t="$torch_tps" 'BEGIN {
    printf "%s tokens/s  molt %.0f  pytorch %.0f  ratio molt/pytorch %.2fx\n", l, m, t, m / t }'
}

for family in $families; do
  case $family in
    gpt2)
      compare GPT-2 \
        "$("$bin" bench model --preset small --vocab-size 8192 --micro-batch 8 --seq-len 256 --steps "$steps")" \
        "$(/usr/bin/python3 "$here/bench/torch_gpt2.py" --d-model 256 --layers 4 --heads 4 \
          --seq-len 256 --micro-batch 8 --vocab-size 8192 --steps "$steps" --threads "$threads")" ;;
    t5)
      compare T5 \
        "$("$bin" bench model --family encdec --preset tiny --d-model 256 --d-ff 512 --d-kv 32 \
          --heads 4 --layers 3 --decoder-layers 3 --seq-len 256 --target-len 64 --micro-batch 8 \
          --vocab-size 8192 --steps "$steps")" \
        "$(/usr/bin/python3 "$here/bench/torch_t5.py" --d-model 256 --d-ff 512 --d-kv 32 --heads 4 \
          --layers 3 --decoder-layers 3 --encoder-len 256 --decoder-len 64 --micro-batch 8 \
          --vocab-size 8192 --steps "$steps" --threads "$threads")" ;;
    *) echo "unknown family $family (gpt2, t5)" >&2; exit 2 ;;
  esac
done
