#!/usr/bin/env bash
# molt vs PyTorch eager on the CPU: the same GPT-2 (d_model 256, 4 layers, 4 heads, n_ctx 256,
# micro-batch 8, vocab 8192), the same threads, random tokens, one run; prints tokens/s of
# each and the ratio. A benchmark, not a test: run it on an otherwise idle machine.
#   scripts/bench-cpu.sh [MOLT_BIN] [THREADS] [STEPS]
set -euo pipefail
bin=${1:-build/bin/molt}
threads=${2:-$(nproc)}
steps=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE

molt_out=$("$bin" bench model --preset small --vocab-size 8192 --micro-batch 8 --seq-len 256 --steps "$steps")
torch_out=$(/usr/bin/python3 "$here/bench/torch_gpt2.py" --d-model 256 --layers 4 --heads 4 \
  --seq-len 256 --micro-batch 8 --vocab-size 8192 --steps "$steps" --threads "$threads")
echo "$molt_out" | grep -v tokens_per_s=
echo "$torch_out" | grep -v tokens_per_s=
molt_tps=$(echo "$molt_out" | sed -n 's/^tokens_per_s=//p')
torch_tps=$(echo "$torch_out" | sed -n 's/^tokens_per_s=//p')
awk -v m="$molt_tps" -v t="$torch_tps" 'BEGIN {
  printf "tokens/s  molt %.0f  pytorch %.0f  ratio molt/pytorch %.2fx\n", m, t, m / t }'
