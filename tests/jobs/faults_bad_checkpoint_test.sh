#!/usr/bin/env bash
# A bad checkpoint given to --resume: corrupt model.h5, truncated optim.h5, a missing
# state.toml, a checkpoint of another model shape. Each: exit 2, one message naming the
# file (and, for the shape, every mismatching tensor), no crash trace.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"
args() { tiny_job_args "$WORK/data" "$1" --set train.steps=4 --set checkpoint.every=2 "${@:2}"; }
"$MOLT_BIN" train $(args "$WORK/good") >/dev/null
good=$WORK/good/checkpoints/step_00000004

one_clear_error() {
  local what=$1 needle=$2
  grep -qF -- "$needle" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "$what: message does not name $needle"; }
  [ "$(grep -c . "$WORK/err.txt")" -eq 1 ] || { cat "$WORK/err.txt"; fail "$what: want exactly one error line"; }
  ! grep -qi "terminate\|abort\|backtrace\|HDF5-DIAG" "$WORK/err.txt" "$WORK/out.txt" || fail "$what: crash output"
}
damaged() { rm -rf "$WORK/$1"; cp -r "$good" "$WORK/$1"; echo "$WORK/$1"; }

ck=$(damaged corrupt)
"$PY" -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(0); f.write(b"not an HDF5 file at all" * 64)' "$ck/model.h5"
expect_status 2 "$MOLT_BIN" train $(args "$WORK/r1") --resume "$ck"
one_clear_error "corrupt model.h5" "$ck/model.h5"

ck=$(damaged truncated)
truncate -s $(( $(stat -c %s "$ck/optim.h5") / 2 )) "$ck/optim.h5"
expect_status 2 "$MOLT_BIN" train $(args "$WORK/r2") --resume "$ck"
one_clear_error "truncated optim.h5" "$ck/optim.h5"

ck=$(damaged nostate)
rm "$ck/state.toml"
expect_status 2 "$MOLT_BIN" train $(args "$WORK/r3") --resume "$ck"
one_clear_error "missing state.toml" "$ck/state.toml"

expect_status 2 "$MOLT_BIN" train $(args "$WORK/r4") --resume "$WORK/no/such/step_00000004"
one_clear_error "missing folder" "$WORK/no/such/step_00000004"

# Another shape: d_model 32 instead of 64, and one layer instead of two.
expect_status 2 "$MOLT_BIN" train $(args "$WORK/r5" --set model.d_model=32 --set model.n_layer=1) --resume "$good"
grep -qF "$good" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "shape mismatch: no checkpoint path"; }
grep -q "transformer.wte.weight" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "shape mismatch: wte not listed"; }
grep -qF "has shape [512, 64], the model expects [512, 32]" "$WORK/err.txt" || fail "shape mismatch: shapes not shown"
[ "$(grep -o "the model expects" "$WORK/err.txt" | wc -l)" -ge 3 ] || fail "shape mismatch: fewer than 3 tensors listed"
echo "shape mismatch message: $(head -c 400 "$WORK/err.txt")"
echo "1 passed, 0 failed"
