#!/usr/bin/env bash
# gpu-session.sh BUNDLE.tar.xz [STEP...]: docs/cuda.md's first commands on a GPU box, as one
# unattended run for a short loan of a GPU. Run it from a checkout of the commit the bundle
# was built from (`make portable`); it needs the bundle, bash, python3 and coreutils' timeout.
#
# Steps (default: all but bench, which takes a call of its own):
#   info      molt --version and nvidia-smi
#   kernels   every CUDA op against the CPU backend          (molt_kernels_tests '*Cuda*')
#   model     both models' training step on CUDA vs the CPU  (molt_model_tests '*Cuda*')
#   dist      the communicators with device buffers          (molt_dist_tests '*Cuda*')
#   train     tests/jobs/cuda_train_test.sh: CPU vs CUDA runs, resume, NCCL, 2 ranks on a GPU
#   export    tests/io/export_test.sh: transformers' GPT2LMHeadModel / T5ForConditionalGeneration
#             load molt's exports and recompute molt's loss (tests/io/transformers_check.py);
#             the checks that read HDF5 skip if the box's Python has no h5py
#   bench     scripts/bench-gpu.sh: molt vs compiled PyTorch, GPT-2 124M and T5 v1.1 base,
#             with molt's time per op (PROFILE_OPS=1)
# If the tensor-core attention (bf16) or a cuBLASLt epilogue (bias, GELU) fails its op tests
# while the older path passes, the steps after `kernels`, and `bench` (which checks this itself,
# being a call of its own), run on the older path (MOLT_CUDA_ATTENTION=reference,
# MOLT_CUDA_GEMM=cublas), say so, and so still measure the rest of molt.
# Each step has a time limit (STEP_TIMEOUT_S, default 300; bench BENCH_TIMEOUT_S, 540) and
# writes OUT/<step>.log (OUT defaults to ./gpu-session-out; the device tool sets $OUT); the
# gtest steps also write OUT/<step>.json, which keeps every measured tolerance. The last lines
# are one verdict per step. Exit status: the number of failed steps.
set -uo pipefail
bundle=${1:?usage: scripts/gpu-session.sh BUNDLE.tar.xz [STEP...]}
shift
steps=${*:-info kernels model dist train export}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$PWD/gpu-session-out}
mkdir -p "$out"
py=${MOLT_PYTHON:-$(command -v python3 || command -v python)}
step_timeout=${STEP_TIMEOUT_S:-300}

unpacked=$(mktemp -d)
"$py" -m tarfile -e "$bundle" "$unpacked" || { echo "gpu-session: cannot unpack $bundle"; exit 99; }
# shellcheck disable=SC1091
source "$unpacked/molt-portable/env.sh"
MOLT_BIN=$(command -v molt) || { echo "gpu-session: no molt in the bundle"; exit 99; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export MOLT_BIN MOLT_SOURCE_DIR=$here MOLT_PYTHON=$py

# What `molt memory` counts for the benchmark's two shapes: molt's measured peak_memory_bytes
# in the benchmark must equal these (both count the same buffers; on the CPU they agree to
# the byte), which checks the count on a GPU in bf16.
expected_memory() {
  local shape=(--set run.dir=unused --set data.dataset=unused --set model.d_model=0
    --set model.n_layer=0 --set model.n_head=0 --set model.d_ff=0 --set model.n_ctx=0
    --set run.device=cuda --set run.precision=bf16)
  local gpt2=${GPT2_MICRO_BATCH:-16} t5=${T5_MICRO_BATCH:-32}
  echo "molt memory, GPT-2 124M x $gpt2: $(molt memory "$here/jobs/examples/tiny-gpt.toml" \
    "${shape[@]}" --vocab-size 50257 --set model.preset=gpt2 --set data.seq_len=1024 \
    --set batch.micro_batch="$gpt2" --set batch.global_batch="$gpt2" | grep '^total_bytes=')"
  echo "molt memory, T5 v1.1 base x $t5: $(molt memory "$here/jobs/examples/tiny-t5.toml" \
    "${shape[@]}" --set model.d_kv=0 --set model.n_decoder_layer=0 --vocab-size 32128 \
    --set model.preset=base --set data.seq_len=512 --set batch.micro_batch="$t5" \
    --set batch.global_batch="$t5" | grep '^total_bytes=')"
}

# choose_fallbacks: runs the two newest kernel paths' tests beside their older twins: the
# tensor-core attention (bf16) against the reference kernels, and cuBLASLt's bias and GELU
# epilogues against the broadcast path and the separate GELU. Where only the newer one fails,
# every later molt uses the older one (MOLT_CUDA_ATTENTION=reference, MOLT_CUDA_GEMM=cublas)
# and this says so.
choose_fallbacks() {
  local filter='Layouts/CudaAttentionTest.*_bf16:Layouts/CudaAttentionTest.*_bf16_reference'
  filter+=':ComputeDtypes/CudaBiasGemmTest.*:ComputeDtypes/CudaGeluGemmTest.*'
  timeout 180 molt_kernels_tests --gtest_filter="$filter" >"$out/fallback-check.log" 2>&1 && return 0
  local failed
  failed=$(grep -oE '^\[  FAILED  \] [A-Za-z]+/[A-Za-z]+\.[A-Za-z]+/[A-Za-z0-9_]+' \
    "$out/fallback-check.log" | sort -u)
  local attention
  attention=$(grep 'CudaAttentionTest' <<<"$failed")
  if [ -n "$attention" ] && ! grep -q '_bf16_reference$' <<<"$attention"; then
    export MOLT_CUDA_ATTENTION=reference
    echo "gpu-session: the tensor-core attention FAILED its tests (the reference kernels pass);"
    echo "gpu-session: what follows runs with MOLT_CUDA_ATTENTION=reference (slow attention)"
    echo "$attention" | head -n 10
  fi
  if grep -q 'ThroughTheEpilogue' <<<"$failed" &&
    ! grep -qE 'ThroughTheBroadcast|ThroughTheSeparateGelu' <<<"$failed"; then
    export MOLT_CUDA_GEMM=cublas
    echo "gpu-session: a cuBLASLt epilogue FAILED its test (the unfused paths pass);"
    echo "gpu-session: what follows runs with MOLT_CUDA_GEMM=cublas"
  fi
}

run_step() {
  local step=$1 limit=$step_timeout
  case $step in
    info) molt --version || return 1  # the rest only informs
          nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
          "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
          "$py" -c 'import transformers, h5py' 2>&1
          return 0 ;;
    kernels | model | dist)
      timeout "$limit" "molt_${step}_tests" --gtest_filter='*Cuda*' \
        --gtest_output="json:$out/$step.json" ;;
    train) timeout "$limit" bash "$here/tests/jobs/cuda_train_test.sh" ;;
    export) MOLT_ALLOW_NO_H5PY=1 timeout "$limit" bash "$here/tests/io/export_test.sh" ;;
    bench) choose_fallbacks
           expected_memory
           # each of the four sides (molt, PyTorch; GPT-2, T5) gets at most 150 s, so one
           # slow torch.compile cannot take the whole call and leave T5 unmeasured
           PROFILE_OPS=1 SIDE_TIMEOUT_S=${SIDE_TIMEOUT_S:-150} timeout "${BENCH_TIMEOUT_S:-540}" \
             bash "$here/scripts/bench-gpu.sh" "$MOLT_BIN" ;;
    *) echo "unknown step $step (info kernels model dist train export bench)"; return 2 ;;
  esac
}

verdicts=()
failed=0
for step in $steps; do
  start=$(date +%s)
  echo "gpu-session: $step ..."
  run_step "$step" >"$out/$step.log" 2>&1
  status=$?
  # the bench step decides inside run_step; after a failed kernels step, decide here
  if [ "$step" = kernels ] && [ "$status" -ne 0 ]; then
    choose_fallbacks
    [ -n "${MOLT_CUDA_ATTENTION:-}" ] && verdicts+=("gpu-session: later steps ran with MOLT_CUDA_ATTENTION=reference")
    [ -n "${MOLT_CUDA_GEMM:-}" ] && verdicts+=("gpu-session: later steps ran with MOLT_CUDA_GEMM=cublas")
  fi
  seconds=$(($(date +%s) - start))
  grep -v '^\[  SKIPPED \]' "$out/$step.log" | tail -n 15
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ tests?, listed below' "$out/$step.log" | grep -oE '[0-9]+')
  skipped=${skipped:-0}
  # the export step's transformers check skips where torch or transformers is missing
  skipped=$((skipped + $(grep -cE '^SKIP: (torch|transformers) is not importable' "$out/$step.log")))
  if [ "$status" -eq 0 ] && [ "$skipped" -gt 0 ]; then  # a GPU test that skips proved nothing
    verdicts+=("gpu-session: $step FAILED: $skipped test(s) skipped (${seconds} s; $out/$step.log)")
    failed=$((failed + 1))
  elif [ "$status" -eq 0 ]; then
    verdicts+=("gpu-session: $step ok (${seconds} s)")
  else
    [ "$status" -eq 124 ] && echo "gpu-session: $step hit its time limit"
    verdicts+=("gpu-session: $step FAILED, status $status (${seconds} s; $out/$step.log)")
    failed=$((failed + 1))
  fi
done
rm -rf "$unpacked"
printf '%s\n' "${verdicts[@]}"
exit $failed
