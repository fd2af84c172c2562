#!/usr/bin/env bash
# molt memory counts, without running the job, the memory the trainer then allocates: its
# total equals the peak a short training run reports (summary.json peak_memory_bytes) to the
# byte, for GPT-2 and T5, with recomputation off and on, and on rank 0 of a 2-rank ZeRO-1 job
# (which holds half of AdamW's state). bf16 halves the compute buffers and adds a bf16 copy
# of the weights. --fit-gib finds the largest micro-batch within a limit. Bad input is exit 2
# with one message.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
passed=0

planned() {  # planned ARGS...: molt memory's total for the job's own train.recompute
  "$MOLT_BIN" memory "$@" | sed -n 's/^total_bytes=//p'
}
trained_peak() {  # trained_peak RUN: summary.json's peak_memory_bytes
  "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1] + "/summary.json"))["peak_memory_bytes"])' "$1"
}
t5_args() { echo "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml --set data.dataset=$WORK/data \
  --set run.dir=$WORK/$1 --set data.seq_len=32 --set eval.batches=2 --set train.steps=2 ${*:2}"; }

for recompute in false true; do
  args=$(tiny_job_args "$WORK/data" "$WORK/gpt-$recompute" --set train.steps=2 --set train.recompute=$recompute)
  "$MOLT_BIN" train $args >/dev/null
  want=$(trained_peak "$WORK/gpt-$recompute")
  got=$(planned $args)
  [ "$got" = "$want" ] || fail "GPT-2, recompute $recompute: molt memory says $got bytes, training peaked at $want"
  "$MOLT_BIN" train $(t5_args "t5-$recompute" --set train.recompute=$recompute) >/dev/null
  want=$(trained_peak "$WORK/t5-$recompute")
  got=$(planned $(t5_args "t5-$recompute" --set train.recompute=$recompute))
  [ "$got" = "$want" ] || fail "T5, recompute $recompute: molt memory says $got bytes, training peaked at $want"
  passed=$((passed + 2))
done

# ZeRO-1 on 2 ranks: rank 0 (which writes summary.json) holds its half of m and v.
args=$(tiny_job_args "$WORK/data" "$WORK/zero1" --set train.steps=2 --set dist.shard_optimizer=true)
mpirun --oversubscribe --bind-to none -np 2 "$MOLT_BIN" train $args >/dev/null
want=$(trained_peak "$WORK/zero1")
got=$(planned $args --world 2)
[ "$got" = "$want" ] || fail "ZeRO-1, 2 ranks: molt memory says $got bytes, rank 0 peaked at $want"
[ "$(planned $args)" -gt "$got" ] || fail "ZeRO-1 on 2 ranks should need less than 1 rank"
passed=$((passed + 1))

# bf16 (what a GPU job computes in): a 2-byte copy of the weights, half-size activations.
args=$(tiny_job_args "$WORK/data" "$WORK/unused" --set run.device=cuda --set batch.micro_batch=64 \
  --set batch.global_batch=64)  # activations large enough for the MiB column's resolution
"$MOLT_BIN" memory $args >"$WORK/f32.txt"
"$MOLT_BIN" memory $args --set run.precision=bf16 >"$WORK/bf16.txt"
"$PY" - "$WORK/f32.txt" "$WORK/bf16.txt" <<'PY'
import re, sys
def parts(path):
    text = open(path).read()
    rows = {m[0].strip(): float(m[1]) for m in re.findall(r"^  (.+?)\s+([0-9.]+) MiB\s+[0-9.]+ MiB$", text, re.M)}
    params = int(re.search(r"decoder, (\d+) parameters", text)[1])
    return rows, params
f32, n = parts(sys.argv[1])
bf16, _ = parts(sys.argv[2])
mib = 2 ** 20
assert f32["compute copy of the weights"] == 0, f32
assert abs(bf16["compute copy of the weights"] - round(2 * n / mib, 1)) < 0.051, bf16
assert bf16["master weights (f32)"] == f32["master weights (f32)"]
assert bf16["AdamW m and v (f32)"] == f32["AdamW m and v (f32)"]
# Compute buffers halve; the f32 statistics (norm rstd, lse, losses) and i32 ids do not.
assert 0.5 * f32["activations (one micro-batch)"] < bf16["activations (one micro-batch)"] < 0.6 * f32["activations (one micro-batch)"], (f32, bf16)
PY
passed=$((passed + 1))

# molt bench model (the benchmark's molt side) counts the same: its measured peak equals molt
# memory's total for the same preset and shape (GPU benchmark runs compare the two in bf16).
preset_args=(--set run.dir=unused --set data.dataset=unused --set model.preset=tiny
  --set model.d_model=0 --set model.n_layer=0 --set model.n_head=0 --set model.d_ff=0
  --set model.n_ctx=0 --set batch.micro_batch=4 --set batch.global_batch=4 --vocab-size 512)
bench_peak() { "$MOLT_BIN" bench model "$@" --preset tiny --vocab-size 512 --micro-batch 4 \
  --steps 1 --warmup 0 | sed -n 's/^peak_memory_bytes=//p'; }
want=$(bench_peak --seq-len 32)
got=$(planned "$MOLT_SOURCE_DIR/jobs/examples/tiny-gpt.toml" "${preset_args[@]}" --set data.seq_len=32)
[ "$got" = "$want" ] || fail "GPT-2 tiny: molt memory $got bytes, molt bench model peaked at $want"
# Span corruption turns 64 encoder tokens into 14 target tokens.
want=$(bench_peak --family encdec --seq-len 64 --target-len 14)
got=$(planned "$MOLT_SOURCE_DIR/jobs/examples/tiny-t5.toml" "${preset_args[@]}" --set model.d_kv=0 \
  --set model.n_decoder_layer=0 --set data.seq_len=64)
[ "$got" = "$want" ] || fail "T5 tiny: molt memory $got bytes, molt bench model peaked at $want"
passed=$((passed + 1))

# --fit-gib: the largest micro-batch whose total fits. A limit halfway between the totals at
# micro-batches 6 and 7 must give 6; the same limit with recomputation gives more.
total_at() { planned $(tiny_job_args "$WORK/data" "$WORK/x" --set batch.micro_batch=$1 --set batch.global_batch=$1); }
limit=$("$PY" -c 'import sys; print(repr((int(sys.argv[1]) + int(sys.argv[2])) / 2 / 2**30))' "$(total_at 6)" "$(total_at 7)")
"$MOLT_BIN" memory $(tiny_job_args "$WORK/data" "$WORK/x") --fit-gib "$limit" >"$WORK/fit.txt"
grep -qx "largest_micro_batch_recompute_off=6" "$WORK/fit.txt" || { cat "$WORK/fit.txt"; fail "--fit-gib: want 6 sequences"; }
on=$(sed -n 's/^largest_micro_batch_recompute_on=//p' "$WORK/fit.txt")
[ "$on" -gt 6 ] || fail "--fit-gib: recomputation should fit more than 6 sequences, got $on"
passed=$((passed + 1))

expect_status 2 "$MOLT_BIN" memory $(tiny_job_args "$WORK/data" "$WORK/x") --world 0
grep -q "world" "$WORK/err.txt" || fail "--world 0: no message naming it"
expect_status 2 "$MOLT_BIN" memory $(tiny_job_args "$WORK/no-data" "$WORK/x")
grep -q "no-data" "$WORK/err.txt" || fail "a missing dataset is not named"
[ "$(wc -l <"$WORK/err.txt")" -eq 1 ] || { cat "$WORK/err.txt"; fail "want one line of message"; }
passed=$((passed + 1))
echo "$passed passed, 0 failed"
