#!/usr/bin/env bash
# `molt train` on a GPU, end to end, with the tiny GPT (20 steps, checkpoints every 10):
#  1. CUDA fp32 follows the CPU run: every step's loss within 1e-3.
#  2. CUDA bf16 follows it too: every step within 0.1, the mean of the last 5 within 0.05
#     (bf16 keeps 8 significant bits; training follows the curve, not its bits).
#  3. Resume on CUDA: a run stopped at step 10 and resumed has the straight run's losses bit
#     for bit, in fp32 and in bf16 (no CUDA kernel adds with atomics, so a step's sums
#     are in the same order every run); the step-10 checkpoint holds exactly what was
#     trained (molt eval of it gives the trainer's step-10 val_loss); two resumes from the
#     same checkpoint agree bit for bit on their first loss.
#  4. The encoder-decoder (tiny-t5, span corruption) follows its CPU run on CUDA, fp32 and bf16
#     as in 1 and 2, and resumes bit for bit; so does the structure ladder's last rung (all
#     four switches) on prefix-LM, in fp32.
#  5. NCCL with one rank (mpirun -np 1, dist.backend = "nccl") trains like the plain run; a
#     rank that never joins the communicator (MOLT_FAULT_INJECT=nccl_join_stall=1) ends the
#     job after dist.timeout_s with one message.
#  6. Two ranks on one GPU: dist.backend = "nccl" is refused (exit 2, NCCL needs a GPU per
#     rank); "auto" falls back to MPI staged through host memory and matches one rank
#     within 1e-3, with and without the sharded optimizer.
# Without a GPU it checks only that run.device = "cuda" is one clear error (exit 2), then
# prints "skipped: no CUDA device" and exits 0.
# MOLT_CUDA_STAND_IN=cpu (cuda_train_plumbing_test.sh) runs parts 1-4 with the CPU standing in
# for the GPU and fp32 for bf16, so this script's own plumbing (runs, resumes, comparisons) is
# checked on machines without a GPU; every comparison is then exact, which its bounds admit.
# MOLT_CUDA_STAND_IN=emulator (cuda_train_emulated_test.sh) runs every part with MOLT_BIN a
# molt whose CUDA backend runs on molt's CUDA emulator (tests/cuda_emulator): the CUDA
# kernels themselves, bf16 included, and NCCL as the emulator's one-rank stand-in.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"

stand_in=${MOLT_CUDA_STAND_IN:-}
dev=cuda half=bf16
[ "$stand_in" = cpu ] && dev=cpu half=fp32
version=$("$MOLT_BIN" --version 2>&1 || true)
if [ "$stand_in" = emulator ]; then
  echo "$version: the CUDA backend on molt's CUDA emulator"
elif [ -n "$stand_in" ]; then
  echo "the CPU stands in for the GPU (MOLT_CUDA_STAND_IN=$stand_in): plumbing only"
elif ! grep -q 'backends: cpu, cuda' <<<"$version" || grep -q ' 0 device(s)' <<<"$version"; then
  expect_status 2 "$MOLT_BIN" train "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml" \
    --set run.dir="$WORK/nogpu" --set run.device=cuda
  grep -q "run.device = \"cuda\"" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no clear message"; }
  [ "$(wc -l <"$WORK/err.txt")" -le 2 ] || { cat "$WORK/err.txt"; fail "more than one message"; }
  echo "skipped: no CUDA device ($version)"
  exit 0
fi
echo "$version"

make_dataset "$WORK/data"
args() { tiny_job_args "$WORK/data" "$1" --set train.steps=20 --set checkpoint.every=10 \
  --set eval.every=10 "${@:2}"; }
train() {  # train NAME ARGS...: a run in $WORK/NAME, its log in $WORK/NAME.log
  local name=$1
  shift
  "$MOLT_BIN" train $(args "$WORK/$name" "$@") >"$WORK/$name.log" 2>&1 \
    || { cat "$WORK/$name.log"; fail "$name: training failed"; }
}
# compare A B STEP_TOL [TAIL_TOL]: losses of runs A and B step by step, and the mean of
# their last 5.
compare() {
  "$PY" - "$WORK/$1/metrics.jsonl" "$WORK/$2/metrics.jsonl" "$3" "${4:-$3}" <<'PY'
import json, sys
def losses(path): return [json.loads(l)["loss"] for l in open(path)]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
step_tol, tail_tol = float(sys.argv[3]), float(sys.argv[4])
assert len(a) == len(b) == 20, (len(a), len(b))
worst = max(abs(x - y) for x, y in zip(a, b))
tail = abs(sum(a[-5:]) - sum(b[-5:])) / 5
print(f"  {sys.argv[1].split('/')[-2]} vs {sys.argv[2].split('/')[-2]}: loss {a[0]:.5f} -> {a[-1]:.5f}"
      f" vs {b[0]:.5f} -> {b[-1]:.5f}; worst step difference {worst:.3g}, last-5 mean {tail:.3g}")
sys.exit(0 if worst <= step_tol and tail <= tail_tol else 1)
PY
}
passed=0

# 1, 2: CUDA against the CPU.
train cpu
train cuda32 --set run.device=$dev --set run.precision=fp32
[ "$stand_in" = cpu ] || grep -q "device cuda:0, fp32 compute" "$WORK/cuda32.log" || { cat "$WORK/cuda32.log"; fail "cuda32 did not run on cuda:0"; }
compare cpu cuda32 1e-3 || fail "CUDA fp32 does not follow the CPU"
passed=$((passed + 1))
train cuda16 --set run.device=$dev --set run.precision=$half
[ "$stand_in" = cpu ] || grep -q "device cuda:0, bf16 compute" "$WORK/cuda16.log" || { cat "$WORK/cuda16.log"; fail "cuda16 not bf16"; }
compare cpu cuda16 0.1 0.05 || fail "CUDA bf16 does not follow the CPU"
passed=$((passed + 1))

# 3: resume on CUDA, fp32.
cuda=(--set run.device=$dev --set run.precision=fp32)
expect_status 75 "$MOLT_BIN" train $(args "$WORK/split" "${cuda[@]}") --stop-at 10
cp -r "$WORK/split" "$WORK/split2"
"$MOLT_BIN" train $(args "$WORK/split" "${cuda[@]}") >"$WORK/resumed.log" 2>&1 || { cat "$WORK/resumed.log"; fail "resume failed"; }
grep -q "resumed from" "$WORK/resumed.log" || fail "the second run did not resume"
compare cuda32 split 0 || fail "the resumed CUDA fp32 run is not bit-identical to the straight one"
"$MOLT_BIN" train $(args "$WORK/split2" "${cuda[@]}") --stop-at 11 >"$WORK/resumed2.log" 2>&1 || [ $? -eq 75 ] \
  || { cat "$WORK/resumed2.log"; fail "second resume failed"; }
step11() { "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["step"] == 11: print(repr(r["loss"]))' "$1/metrics.jsonl"; }
[ "$(step11 "$WORK/split")" = "$(step11 "$WORK/split2")" ] \
  || fail "two resumes from one checkpoint differ at step 11: $(step11 "$WORK/split") vs $(step11 "$WORK/split2")"
trained=$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["step"] == 10: print(repr(r["val_loss"]))' "$WORK/split/metrics.jsonl")
evaluated=$("$MOLT_BIN" eval "$WORK/split/checkpoints/step_00000010" | sed -n 's/^loss=//p')
"$PY" -c 'import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if abs(a - b) <= 1e-6 * abs(b) else 1)' \
  "$evaluated" "$trained" || fail "the step-10 checkpoint evaluates to $evaluated, the trainer measured $trained"
echo "  resume: step-10 checkpoint evaluates to $evaluated (trainer: $trained); step 11 identical across resumes"
bf16=(--set run.device=$dev --set run.precision=$half)
expect_status 75 "$MOLT_BIN" train $(args "$WORK/split16" "${bf16[@]}") --stop-at 10
"$MOLT_BIN" train $(args "$WORK/split16" "${bf16[@]}") >"$WORK/resumed16.log" 2>&1 || { cat "$WORK/resumed16.log"; fail "bf16 resume failed"; }
compare cuda16 split16 0 || fail "the resumed CUDA bf16 run is not bit-identical to the straight one"
passed=$((passed + 1))

# 4: the encoder-decoder on CUDA.
t5_args() {  # t5_args NAME ARGS...: a tiny-t5 run in $WORK/NAME, 20 steps as args()
  echo "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml --set data.dataset=$WORK/data \
    --set run.dir=$WORK/$1 --set data.seq_len=32 --set eval.batches=2 --set train.steps=20 \
    --set checkpoint.every=10 --set eval.every=10 ${*:2}"
}
t5() {  # t5 NAME ARGS...: as train(), for tiny-t5
  "$MOLT_BIN" train $(t5_args "$@") >"$WORK/$1.log" 2>&1 \
    || { cat "$WORK/$1.log"; fail "$1: training failed"; }
}
t5 t5cpu
t5 t5cuda32 "${cuda[@]}"
compare t5cpu t5cuda32 1e-3 || fail "CUDA fp32 T5 does not follow the CPU"
t5 t5cuda16 "${bf16[@]}"
compare t5cpu t5cuda16 0.1 0.05 || fail "CUDA bf16 T5 does not follow the CPU"
expect_status 75 "$MOLT_BIN" train $(t5_args t5split "${cuda[@]}") --stop-at 10
t5 t5split "${cuda[@]}"
compare t5cuda32 t5split 0 || fail "the resumed CUDA T5 run is not bit-identical to the straight one"
ladder=(--set data.objective=prefix_lm --set model.share_cross_attention=true
  --set model.share_encoder_decoder=true --set 'model.cross_attention_source="layerwise"'
  --set 'model.input_attention="causal"')
t5 laddercpu "${ladder[@]}"
t5 laddercuda "${ladder[@]}" "${cuda[@]}"
compare laddercpu laddercuda 1e-3 || fail "the structure ladder's last rung on CUDA does not follow the CPU"
passed=$((passed + 1))

if [ "$stand_in" = cpu ]; then
  echo "$passed passed with the CPU standing in for the GPU (parts 5-6 need one)"
  exit 0
fi

mpi() { mpirun --oversubscribe --bind-to none -np "$1" "${@:2}"; }

# 5: NCCL, one rank (skipped, with a line saying so, in a build without NCCL).
nccl=yes
mpi 1 "$MOLT_BIN" train $(args "$WORK/nccl1" "${cuda[@]}" --set dist.backend=nccl) >"$WORK/nccl1.log" 2>&1 \
  || { grep -q "this build of molt has no NCCL" "$WORK/nccl1.log" && nccl=no; } \
  || { cat "$WORK/nccl1.log"; fail "NCCL W=1 failed"; }
if [ $nccl = no ]; then
  echo "  part 5 skipped: this build of molt has no NCCL"
else
  grep -q "gradient sums over nccl" "$WORK/nccl1.log" || { cat "$WORK/nccl1.log"; fail "W=1 did not use NCCL"; }
  compare cuda32 nccl1 1e-3 || fail "NCCL W=1 differs from the plain CUDA run"
  # A rank that never joins the NCCL communicator ends the job after dist.timeout_s.
  set +e
  MOLT_FAULT_INJECT=nccl_join_stall=1 timeout 120 mpirun --oversubscribe --bind-to none -np 1 \
    "$MOLT_BIN" train $(args "$WORK/ncclstall" "${cuda[@]}" --set dist.backend=nccl \
    --set dist.timeout_s=3) >"$WORK/ncclstall.log" 2>&1
  stall_status=$?
  set -e
  [ "$stall_status" -ne 0 ] && [ "$stall_status" -ne 124 ] \
    || { cat "$WORK/ncclstall.log"; fail "a stalled NCCL join: exit $stall_status (0: not ended; 124: hung)"; }
  grep -q "molt: error: rank 0: NCCL: the communicator has not formed after 3 s" "$WORK/ncclstall.log" \
    || { cat "$WORK/ncclstall.log"; fail "a stalled NCCL join: no message"; }
  passed=$((passed + 1))
fi

# 6: two ranks sharing one GPU.
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES%%,*}
expect_status 2 mpi 2 "$MOLT_BIN" train $(args "$WORK/nccl2" "${cuda[@]}" --set dist.backend=nccl)
refusal="NCCL needs a GPU per rank"
[ $nccl = yes ] || refusal="this build of molt has no NCCL"
grep -q "$refusal" "$WORK/err.txt" "$WORK/out.txt" || { cat "$WORK/err.txt"; fail "no clear NCCL refusal"; }
for shard in false true; do
  name=mpi2_shard_$shard
  mpi 2 "$MOLT_BIN" train $(args "$WORK/$name" "${cuda[@]}" --set dist.shard_optimizer=$shard) \
    >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "$name failed"; }
  grep -q "gradient sums over mpi, staged through host memory" "$WORK/$name.log" \
    || { cat "$WORK/$name.log"; fail "$name did not stage through MPI"; }
  grep -q "2 rank(s)" "$WORK/$name.log" || fail "$name: not 2 ranks"
  compare cuda32 "$name" 1e-3 || fail "$name differs from one rank"
  passed=$((passed + 1))
done
echo "$passed passed, 0 failed${stand_in:+ (on the CUDA emulator)}"
