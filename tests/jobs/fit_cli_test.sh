#!/usr/bin/env bash
# Contract: `molt fit` turns a sweep folder (decoder and encdec runs together, one of them
# unfinished) into fit.json with the documented keys, report.md and PNG/SVG plots; a CSV
# works too; without gnuplot the numbers and report are still written; degenerate inputs
# end with exit status 2 and a message naming what is missing. `molt plot` draws curves.
set -euo pipefail
MOLT_BIN=${MOLT_BIN:?MOLT_BIN must point at the molt binary}
PY=${MOLT_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# expect_error "what" "message fragment" molt-args...
expect_error() {
  local what=$1 fragment=$2 status=0
  shift 2
  "$MOLT_BIN" "$@" > "$tmp/stdout" 2> "$tmp/err" || status=$?
  if [ "$status" -ne 2 ]; then
    fail "$what: exit status $status, expected 2"; cat "$tmp/err"
  elif ! grep -qF -- "$fragment" "$tmp/err"; then
    fail "$what: stderr lacks '$fragment':"; cat "$tmp/err"
  else
    echo "ok   $what"
  fi
}

# make_sweep DIR: IsoFLOP-shaped runs from known laws, 0.5 % noise, curves in metrics.jsonl.
make_sweep() {
  "$PY" - "$1" <<'PYEOF'
import json, math, os, random, sys
root = sys.argv[1]
random.seed(5)
laws = {"decoder": (1.8, 50.0, 80.0, 0.30, 0.30), "encdec": (1.6, 60.0, 90.0, 0.32, 0.28)}
for family, (E, A, B, a, b) in laws.items():
    G = (a * A / (b * B)) ** (1 / (a + b))
    for C in (1e13, 1e14, 1e15):
        n_opt = G * (C / 6) ** (b / (a + b))
        for k in range(5):
            N = n_opt * 10 ** (-0.6 + 0.3 * k)
            D = C / (6 * N)
            loss = lambda d: (E + A / N ** a + B / d ** b) * (1 + random.gauss(0, 0.005))
            run = os.path.join(root, f"{family}-C{C:.0e}-{k}")
            os.makedirs(run)
            with open(os.path.join(run, "metrics.jsonl"), "w") as f:
                for step in range(1, 11):
                    d = D * step / 10
                    f.write(json.dumps({"step": step, "tokens": d, "flops": 6 * N * d,
                                        "loss": loss(d), "val_loss": loss(d) if step % 5 == 0 else None,
                                        "lr": 1e-3, "grad_norm": 1.0, "tokens_per_s": 1.0,
                                        "wall_s": step}) + "\n")
            final = loss(D)
            # encdec runs as a structure variant: its series name holds '/' and '+'.
            series = family if family == "decoder" else "encdec/shared-xattn+shared-stack"
            json.dump({"family": family, "series": series, "N": N * 1.5, "N_nonembed": N, "D": D, "C": C,
                       "final_loss": final, "val_loss": final, "steps": 10, "seq_len": 64},
                      open(os.path.join(run, "summary.json"), "w"))
os.makedirs(os.path.join(root, "unfinished"))
open(os.path.join(root, "unfinished", "metrics.jsonl"), "w").write('{"step": 1}\n')
PYEOF
}

# 1. A sweep of two families.
make_sweep "$tmp/sweep"
"$MOLT_BIN" fit "$tmp/sweep" --out "$tmp/out" --bootstrap 20 > "$tmp/log" 2>&1 || {
  fail "molt fit on a sweep"; cat "$tmp/log"; }
"$PY" - "$tmp/out/fit.json" <<'PYEOF' || fail "fit.json contents"
import json, sys
fit = json.load(open(sys.argv[1]))
for key in ("E", "A", "B", "alpha", "beta"):
    assert set(fit[key]) == {"value", "ci_low", "ci_high"}, key
    assert fit[key]["ci_low"] <= fit[key]["value"] <= fit[key]["ci_high"], key
assert fit["family"] == "decoder"
assert set(fit["families"]) == {"decoder", "encdec/shared-xattn+shared-stack"}, fit["families"].keys()
assert fit["families"]["decoder"]["alpha"] == fit["alpha"]
assert abs(fit["alpha"]["value"] - 0.30) < 0.1 and abs(fit["beta"]["value"] - 0.30) < 0.1, fit["alpha"]
assert len(fit["isoflop"]["budgets"]) == 3
assert abs(fit["isoflop"]["N_opt"]["exponent_a"] - 0.5) < 0.05, fit["isoflop"]["N_opt"]
assert "L_N" in fit["kaplan"] and "L_C" in fit["kaplan"]
assert fit["params"] == "nonembed" and fit["metric"] == "val_loss"
assert fit["counts"] == {"runs": 30, "skipped": 1, "families": 2}, fit["counts"]
assert "unfinished" in fit["skipped"][0]["path"]
assert "attention" in fit["flops_formula"]
print("ok   fit.json keys and values")
PYEOF
grep -q "FLOP accounting" "$tmp/out/report.md" || fail "report lacks the FLOP formula"
grep -q "C ≈ 6ND" "$tmp/out/report.md" || fail "report lacks the 6ND caveat"
grep -qE '\| E \| [0-9.]{12,}' "$tmp/out/report.md" || fail "report lacks unrounded E"
grep -q "Family \`encdec/shared-xattn+shared-stack\`" "$tmp/out/report.md" || fail "report lacks the encdec variant"
if command -v gnuplot > /dev/null; then
  for stem in loss_vs_compute isoflop observed_vs_fitted loss_vs_params; do
    for ext in png svg; do
      [ -s "$tmp/out/$stem.$ext" ] || fail "plot $stem.$ext missing"
    done
    grep -qF "]($stem.png)" "$tmp/out/report.md" || fail "report does not embed $stem.png"
  done
  if grep -q "Cannot find or open file" "$tmp/log"; then
    grep "Cannot find" "$tmp/log"; fail "gnuplot could not read plot data (a series name as a path?)"
  fi
  echo "ok   plots written and embedded"
fi

# 2. Without gnuplot: numbers and report, and the report says why there are no plots.
PATH=/nonexistent "$MOLT_BIN" fit "$tmp/sweep" --out "$tmp/noplot" --bootstrap 0 --params total \
  > /dev/null 2>&1 || fail "molt fit without gnuplot"
grep -q "Plots skipped: gnuplot was not found" "$tmp/noplot/report.md" || fail "no skip note"
[ ! -e "$tmp/noplot/isoflop.png" ] || fail "a plot appeared without gnuplot"
grep -q '"params": "total"' "$tmp/noplot/fit.json" || fail "--params total not recorded"
echo "ok   no gnuplot"

# 3. A CSV of published-style numbers (N, D, loss only: parametric and Kaplan L(N)).
"$PY" - "$tmp/points.csv" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("N,D,loss\n")
    for i in range(5):
        for j in range(4):
            N, D = 10 ** (6 + i * 0.5), 10 ** (8 + j * 0.6)
            f.write(f"{N},{D},{1.7 + 400 / N ** 0.34 + 410 / D ** 0.28}\n")
PYEOF
"$MOLT_BIN" fit --csv "$tmp/points.csv" --out "$tmp/csvout" --bootstrap 5 > "$tmp/log" 2>&1 || {
  fail "molt fit --csv"; cat "$tmp/log"; }
grep -q '"E"' "$tmp/csvout/fit.json" && grep -q "IsoFLOP profiles skipped" "$tmp/csvout/report.md" \
  && echo "ok   csv" || fail "csv fit output"

# 4. Degenerate inputs.
mkdir -p "$tmp/few"
for k in 0 1; do cp -r "$tmp/sweep/decoder-C1e+13-$k" "$tmp/few/"; done
expect_error "too few runs" "at least 5 runs" fit "$tmp/few" --out "$tmp/o1"
mkdir -p "$tmp/nan" && cp -r "$tmp/sweep/decoder-C1e+13-"* "$tmp/nan/"
sed -i 's/"val_loss": [0-9.e-]*/"val_loss": null/' "$tmp/nan/decoder-C1e+13-2/summary.json"
expect_error "null loss names the run" "decoder-C1e+13-2: val_loss is null" fit "$tmp/nan"
mkdir -p "$tmp/onlyunfinished/a" && echo '{"step":1}' > "$tmp/onlyunfinished/a/metrics.jsonl"
expect_error "no finished runs" "no finished runs" fit "$tmp/onlyunfinished"
expect_error "missing folder" "$tmp/absent: no such run or sweep folder" fit "$tmp/absent"
printf 'N,D,loss\n1e6,1e9,3\n1e7,1e9\n' > "$tmp/bad.csv"
expect_error "bad csv line" "bad.csv:3: 2 cells" fit --csv "$tmp/bad.csv"
expect_error "no input" "exactly one of them" fit

# 5. molt plot.
run="$tmp/sweep/decoder-C1e+14-2"
"$MOLT_BIN" plot "$run" > /dev/null || fail "molt plot"
[ -s "$run/loss.png" ] && [ -s "$run/loss.svg" ] || fail "molt plot wrote no figure"
"$MOLT_BIN" plot "$run" "$tmp/sweep/encdec-C1e+14-2" --x flops --out "$tmp/two.png" > /dev/null \
  || fail "molt plot two runs"
[ -s "$tmp/two.png" ] && [ -s "$tmp/two.svg" ] && echo "ok   molt plot" || fail "two.png missing"
expect_error "plot missing run" "no such run folder" plot "$tmp/absent"
expect_error "plot bad --out" "ending in .png" plot "$run" --out "$tmp/x.jpg"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all fit CLI checks passed"
