#!/usr/bin/env bash
# molt vs PyTorch on one GPU: the same model, shape and random tokens, one after the other
# from this script (so the same process tree and the same GPU), for each family:
#   gpt2: GPT-2 124M (preset gpt2: d_model 768, 12 layers, 12 heads), n_ctx 1024, vocab 50257,
#         micro-batch GPT2_MICRO_BATCH (16);
#   t5:   T5 v1.1 base (d_model 768, gated d_ff 2048, 12 heads of 64, 12+12 layers), encoder
#         512 / decoder 114 tokens, vocab 32128, micro-batch T5_MICRO_BATCH (32).
# molt runs `molt bench model --device cuda --precision bf16`; PyTorch runs the peers in
# scripts/bench/ with --device cuda --bf16 --compile (torch.compile, bf16 autocast over fp32
# master weights, fused AdamW, scaled_dot_product_attention). Each side prints tokens/s, MFU
# and peak memory, then the ratio molt/PyTorch of tokens/s.
#
# MFU = tokens/s · FLOPs per token / the GPU's dense bf16 peak. Both factors come from molt's
# report (model/flops.h: 6N plus attention; kernels::dense_peak_flops), so both sides count
# the same FLOPs against the same peak; PyTorch's MFU is n/a when molt's side failed. Peak
# memory is what each allocator handed out (Backend::memory_usage's peak plus the backend's
# own scratch and workspaces; max_memory_allocated, which in recent PyTorch includes the
# cuBLAS workspaces it allocates through its caching allocator).
#
# A side that fails (out of memory, a compile error, a timeout) prints its error and the
# script goes on; it exits 1 at the end if any side failed.
#
#   scripts/bench-gpu.sh [--smoke] [MOLT_BIN] [FAMILIES]     FAMILIES: "gpt2 t5" (default)
# MOLT_BIN defaults to `molt` on PATH (the portable bundle after `source env.sh`), else
# build/bin/molt. Environment: GPT2_MICRO_BATCH, T5_MICRO_BATCH, STEPS (20), WARMUP (3; the
# first PyTorch step compiles), PEAK_TFLOPS (override the peak), MOLT_PYTHON (python3),
# SIDE_TIMEOUT_S (1200 per side), TORCH_COMPILE (1; 0 runs the peers eager, e.g. where
# torch.compile cannot build its kernels), PROFILE_OPS (0; 1 passes --profile-ops to molt,
# which then prints, after its timed steps, a few more steps' time per op and shape).
# --smoke (or BENCH_SMOKE=1): tiny shapes on the CPU, fp32, eager PyTorch, 2 steps, to check
# the plumbing on a machine without a GPU; its numbers mean nothing.
set -uo pipefail
smoke=${BENCH_SMOKE:-0}
if [ "${1:-}" = --smoke ]; then
  smoke=1
  shift
fi
here=$(cd "$(dirname "$0")" && pwd)
molt=${1:-$(command -v molt || echo build/bin/molt)}
families=${2:-gpt2 t5}
python=${MOLT_PYTHON:-python3}
steps=${STEPS:-20}
warmup=${WARMUP:-3}
side_timeout=${SIDE_TIMEOUT_S:-1200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$smoke" = 1 ]; then
  steps=${STEPS:-2} warmup=${WARMUP:-1}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  molt_device=(--device cpu --precision fp32)
  torch_device=(--device cpu --threads "$OMP_NUM_THREADS")
  precision="fp32 on the CPU (smoke: tiny shapes, the numbers mean nothing)"
else
  molt_device=(--device cuda --precision bf16)
  torch_device=(--device cuda --bf16)
  precision="bf16"
  if [ "${TORCH_COMPILE:-1}" = 1 ]; then
    torch_device+=(--compile)
  else
    precision+=", PyTorch eager (TORCH_COMPILE=0)"
  fi
fi
[ -n "${PEAK_TFLOPS:-}" ] && molt_device+=(--peak-tflops "$PEAK_TFLOPS")
[ "${PROFILE_OPS:-0}" = 1 ] && molt_device+=(--profile-ops)
[ -x "$molt" ] || { echo "bench-gpu.sh: no molt at '$molt' (give its path first)" >&2; exit 2; }
for family in $families; do
  case $family in
    gpt2 | t5) ;;
    *) echo "bench-gpu.sh: unknown family '$family' (gpt2, t5)" >&2; exit 2 ;;
  esac
done
"$molt" --version 2>&1

# run_side NAME CMD...: runs CMD under the timeout, its stdout and stderr in $work/NAME.
run_side() {
  local name=$1
  shift
  timeout "$side_timeout" "$@" >"$work/$name" 2>&1
}

# value KEY NAME: the value of the last KEY= line of side NAME's output (empty if none).
value() { sed -n "s/^$1=//p" "$work/$2" | tail -n 1; }

# report LABEL NAME STATUS FLOPS_PER_TOKEN PEAK_FLOPS: a side's own lines, then its summary
# ("LABEL NAME: tokens/s X, MFU Y, peak memory Z MiB"), or its error.
report() {
  local label=$1 name=$2 status=$3 tps mem own
  if [ "$status" -ne 0 ]; then
    sed 's/^/  | /' "$work/$name" | tail -n 25
    [ "$status" -eq 124 ] && echo "  | (timed out after ${side_timeout}s)"
    echo "$label $name: FAILED (exit $status)"
    return
  fi
  grep -v '^[a-z_]*=' "$work/$name" | sed 's/^/  | /'
  tps=$(value tokens_per_s "$name")
  # molt's tensors plus its backend's own scratch and workspaces, as PyTorch's allocator
  # counts its cuBLAS workspace with the tensors
  mem=$(value peak_memory_bytes "$name")
  own=$(value backend_memory_bytes "$name")
  [ -n "$mem" ] && mem=$((mem + ${own:-0}))
  awk -v l="$label" -v n="$name" -v t="$tps" -v m="$mem" -v f="$4" -v p="$5" 'BEGIN {
    mfu = (f + 0 > 0 && p + 0 > 0) ? sprintf("%.1f%%", 100 * t * f / p) : "n/a"
    mib = (m == "") ? "n/a" : sprintf("%.1f MiB", m / 1048576)
    printf "%s %s: tokens/s %.1f, MFU %s, peak memory %s\n", l, n, t, mfu, mib }'
}

failed=0
# compare LABEL SHAPE "MOLT ARGS" "PEER SCRIPT AND ARGS": both sides, their summaries
# (lines starting with LABEL), the ratio.
compare() {
  local label=$1 molt_status torch_status flops="" peak=""
  echo
  echo "== $label: $2, $precision, $steps steps after $warmup warmup"
  # shellcheck disable=SC2086  # the argument strings are word lists
  run_side molt "$molt" bench model $3 "${molt_device[@]}" --steps "$steps" --warmup "$warmup"
  molt_status=$?
  # shellcheck disable=SC2086
  run_side pytorch "$python" $4 "${torch_device[@]}" --steps "$steps" --warmup "$warmup"
  torch_status=$?
  if [ "$molt_status" -eq 0 ]; then
    flops=$(value flops_per_token molt)
    peak=$(value peak_flops molt)
  fi
  report "$label" molt "$molt_status" "$flops" "$peak"
  report "$label" pytorch "$torch_status" "$flops" "$peak"
  if [ "$molt_status" -ne 0 ] || [ "$torch_status" -ne 0 ]; then
    echo "$label ratio molt/pytorch: n/a (a side failed)"
    failed=1
    return
  fi
  awk -v l="$label" -v m="$(value tokens_per_s molt)" -v t="$(value tokens_per_s pytorch)" \
    'BEGIN { printf "%s ratio molt/pytorch: %.2fx tokens/s\n", l, m / t }'
}

for family in $families; do
  case $family in
    gpt2)
      if [ "$smoke" = 1 ]; then
        preset=tiny d=64 layers=2 heads=4 seq=32 vocab=256 batch=${GPT2_MICRO_BATCH:-2}
      else
        preset=gpt2 d=768 layers=12 heads=12 seq=1024 vocab=50257 batch=${GPT2_MICRO_BATCH:-16}
      fi
      compare GPT-2 "preset $preset, B $batch, T $seq" \
        "--family decoder --preset $preset --d-model $d --layers $layers --heads $heads
         --seq-len $seq --vocab-size $vocab --micro-batch $batch" \
        "$here/bench/torch_gpt2.py --d-model $d --layers $layers --heads $heads --seq-len $seq
         --vocab-size $vocab --micro-batch $batch" ;;
    t5)
      if [ "$smoke" = 1 ]; then
        preset=tiny d=64 d_ff=128 d_kv=16 heads=4 layers=2 enc=32 dec=8 vocab=256
        batch=${T5_MICRO_BATCH:-2}
      else
        preset=base d=768 d_ff=2048 d_kv=64 heads=12 layers=12 enc=512 dec=114 vocab=32128
        batch=${T5_MICRO_BATCH:-32}
      fi
      compare T5 "v1.1 preset $preset, B $batch, encoder $enc / decoder $dec tokens" \
        "--family encdec --preset $preset --d-model $d --d-ff $d_ff --d-kv $d_kv --heads $heads
         --layers $layers --decoder-layers $layers --seq-len $enc --target-len $dec
         --vocab-size $vocab --micro-batch $batch" \
        "$here/bench/torch_t5.py --d-model $d --d-ff $d_ff --d-kv $d_kv --heads $heads
         --layers $layers --decoder-layers $layers --encoder-len $enc --decoder-len $dec
         --vocab-size $vocab --micro-batch $batch" ;;
  esac
done
exit "$failed"
