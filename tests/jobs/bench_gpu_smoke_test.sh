#!/usr/bin/env bash
# scripts/bench-gpu.sh's plumbing, on the CPU (--smoke: tiny shapes, eager PyTorch):
#  1. both families print, for molt and for PyTorch, one summary line that parses
#     (tokens/s, MFU, peak memory), and the ratio; molt's own mfu= agrees with tokens/s ·
#     flops_per_token / peak_flops, and GPT-2's FLOPs per token are 6·N_matmul + 12·L·T·d.
#     With --profile-ops molt's key=value lines are the same, and a table of ops follows:
#     matmul_forward and attention_forward rows with their shapes, shares summing to 100%.
#  2. a side that fails prints its error, the other side still runs, the ratio is n/a and the
#     script exits 1. PROFILE_OPS=1 reaches molt as --profile-ops.
#  3. `molt bench model --device cuda` without a GPU is one clear error with exit 2 (with a
#     GPU: a tiny run that reports mfu= and a --profile-ops table); bf16 on the CPU is refused
#     the same way.
#  4. That tiny bf16 CUDA run, with its table, on molt's CUDA emulator (molt_emulated).
# No timing is asserted.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
bench=$MOLT_SOURCE_DIR/scripts/bench-gpu.sh
number='[0-9]+(\.[0-9]+)?'

# 1. Both families, with a peak so that MFU is computed on both sides.
PEAK_TFLOPS=0.01 expect_status 0 bash "$bench" --smoke "$MOLT_BIN"
for label in GPT-2 T5; do
  for side in molt pytorch; do
    memory="$number MiB"
    [ $side = pytorch ] && memory="n/a"  # torch reports peak memory on CUDA only
    grep -Eq "^$label $side: tokens/s $number, MFU $number%, peak memory $memory\$" \
      "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "no $label $side summary"; }
  done
  grep -Eq "^$label ratio molt/pytorch: ${number}x tokens/s\$" "$WORK/out.txt" \
    || { cat "$WORK/out.txt"; fail "no $label ratio"; }
done
echo "  smoke: $(grep -c 'ratio molt/pytorch' "$WORK/out.txt") ratios"

"$MOLT_BIN" bench model --preset tiny --d-model 64 --layers 2 --heads 4 --vocab-size 256 \
  --seq-len 32 --micro-batch 2 --steps 2 --warmup 1 --peak-tflops 0.01 --profile-ops \
  >"$WORK/molt.txt"
"$PY" - "$WORK/molt.txt" <<'PY' || { cat "$WORK/molt.txt"; fail "molt's MFU lines disagree"; }
import sys
v = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and " " not in l)
tps, fpt, peak, mfu = (float(v[k]) for k in ("tokens_per_s", "flops_per_token", "peak_flops", "mfu"))
d, L, T, V = 64, 2, 32, 256
assert fpt == 6 * (12 * d * d * L + V * d) + 12 * L * T * d, fpt
assert peak == 1e10, peak
assert abs(mfu - tps * fpt / peak) <= 1e-4 + 1e-3 * mfu, (mfu, tps * fpt / peak)
print(f"  molt: flops_per_token {fpt:.0f}, mfu {mfu} = tokens/s {tps} x flops / peak")
PY

# profile_table FILE KEY...: the --profile-ops table in FILE has a row for each KEY (with the
# calls per step after a colon, if given); the shares sum to 100%, and matmul and attention
# rows have a TFLOP/s, the others none.
profile_table() {
  "$PY" - "$@" <<'PY' || { cat "$1"; fail "no --profile-ops table in $1 with ${*:2}"; }
import re, sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("molt: per-op profile over"))
row = re.compile(r"  (.+?) +(\S+) +(\S+) +(\S+)% +(\S+)")  # key calls/step ms/step % TFLOP/s
rows = {}
for line in lines[start + 2:]:
    if line.startswith("molt: profiled step"):
        break
    key, calls, ms, share, tflops = row.fullmatch(line).groups()
    rows[key] = float(calls), float(share), tflops
else:
    raise SystemExit("no 'molt: profiled step' line after the table")
for want in sys.argv[2:]:
    key, _, calls = want.partition(":")
    assert key in rows, (key, sorted(rows))
    assert not calls or rows[key][0] == float(calls), (key, rows[key])
total = sum(share for _, share, _ in rows.values())
assert abs(total - 100) < 0.5, total
for key, (_, _, tflops) in rows.items():
    counted = key.startswith(("matmul_", "attention_"))
    assert (tflops != "-") == counted, (key, tflops)
print(f"  --profile-ops: {len(rows)} rows, shares sum to {total:.2f}%")
PY
}
# GPT-2 tiny: d 64, 2 layers of 4 heads of 16, B 2 · T 32 = 64 tokens.
profile_table "$WORK/molt.txt" "matmul_forward 64x64x192:2" "matmul_backward 64x64x192:2" \
  "attention_forward B2 H4 Tq32 Tk32 D16 causal:2" \
  "attention_backward B2 H4 Tq32 Tk32 D16 causal:2" "layernorm_forward" "adamw"
# T5 tiny: encoder self-attention (bidirectional), decoder self- (causal) and cross-attention.
"$MOLT_BIN" bench model --family encdec --preset tiny --d-model 64 --d-ff 128 --d-kv 16 \
  --heads 4 --layers 2 --decoder-layers 2 --seq-len 32 --target-len 8 --vocab-size 256 \
  --micro-batch 2 --steps 1 --warmup 1 --profile-ops --profile-steps 2 >"$WORK/t5.txt"
profile_table "$WORK/t5.txt" "attention_forward B2 H4 Tq32 Tk32 D16 bidirectional:2" \
  "attention_forward B2 H4 Tq8 Tk8 D16 causal:2" \
  "attention_forward B2 H4 Tq8 Tk32 D16 bidirectional:2" "rmsnorm_forward" \
  "gated_gelu_forward:4" "position_bias_forward:2"

# 2. molt fails (as out of memory would): PyTorch still runs; exit 1.
cat >"$WORK/failing-molt" <<EOF
#!/usr/bin/env bash
[ "\$1" = --version ] && exec "$MOLT_BIN" --version
echo "\$*" >"$WORK/molt-args.txt"
echo "molt: error: out of memory (injected by the test)" >&2
exit 3
EOF
chmod +x "$WORK/failing-molt"
PROFILE_OPS=1 expect_status 1 bash "$bench" --smoke "$WORK/failing-molt" gpt2
grep -q -- "--profile-ops" "$WORK/molt-args.txt" || fail "PROFILE_OPS=1 did not pass --profile-ops"
for line in "out of memory (injected by the test)" "GPT-2 molt: FAILED (exit 3)" \
  "GPT-2 ratio molt/pytorch: n/a (a side failed)"; do
  grep -qF "$line" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "no '$line'"; }
done
grep -Eq "^GPT-2 pytorch: tokens/s $number, MFU n/a, peak memory n/a\$" "$WORK/out.txt" \
  || { cat "$WORK/out.txt"; fail "PyTorch did not run after molt failed"; }
echo "  a failing side: reported, the other side ran, exit 1"

# 3. --device cuda: one clear error without a GPU.
tiny=(--preset tiny --vocab-size 256 --seq-len 32 --micro-batch 2 --steps 2 --warmup 1)
version=$("$MOLT_BIN" --version 2>&1)
# cuda_bench BIN: the bf16 bench on CUDA reports mfu= and a --profile-ops table.
cuda_bench() {
  expect_status 0 "$1" bench model "${tiny[@]}" --device cuda --precision bf16 --profile-ops
  grep -Eq "^mfu=($number|n/a)\$" "$WORK/out.txt" || { cat "$WORK/out.txt"; fail "no mfu= on cuda"; }
  profile_table "$WORK/out.txt" "attention_forward B2 H4 Tq32 Tk32 D16 causal" "adamw"
}
if grep -q 'backends: cpu, cuda' <<<"$version" && ! grep -q ' 0 device(s)' <<<"$version"; then
  cuda_bench "$MOLT_BIN"
  echo "  --device cuda ran: $(grep '^mfu=' "$WORK/out.txt")"
else
  expect_status 2 "$MOLT_BIN" bench model "${tiny[@]}" --device cuda
  grep -q -- "--device cuda" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no clear message"; }
  [ "$(wc -l <"$WORK/err.txt")" -eq 1 ] || { cat "$WORK/err.txt"; fail "more than one line"; }
  echo "  --device cuda without a GPU: $(cat "$WORK/err.txt")"
fi
# 4. The GPU branch of 3 on molt's CUDA emulator (molt_emulated, tests/cuda_emulator): the
#    bench's CUDA path, profiling included, runs before any GPU session depends on it.
emulated="$(dirname "$MOLT_BIN")/molt_emulated"
[ -x "$emulated" ] || fail "no $emulated: the build makes it (tests/cuda_emulator)"
cuda_bench "$emulated"
echo "  --device cuda on the CUDA emulator: $(grep '^mfu=' "$WORK/out.txt")"
expect_status 2 "$MOLT_BIN" bench model "${tiny[@]}" --precision bf16
grep -q -- "--precision bf16 needs --device cuda" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "bf16 on the CPU: no clear message"; }
echo "passed"
