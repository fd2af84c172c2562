#!/usr/bin/env bash
# Exact resume on the CPU backend: 12 steps straight, and 6 (--stop-at) + resume + 6, give bit-identical
# losses at every step and bit-identical final weights and optimizer moments.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

args() { tiny_job_args "$WORK/data" "$1" --set train.steps=12 --set checkpoint.every=6 --set eval.every=6 "${@:2}"; }
"$MOLT_BIN" train $(args "$WORK/straight") >/dev/null
expect_status 75 "$MOLT_BIN" train $(args "$WORK/split") --stop-at 6
"$MOLT_BIN" train $(args "$WORK/split") >"$WORK/resumed.log"
grep -q "resumed from" "$WORK/resumed.log" || fail "the second run did not resume"

[ "$(losses "$WORK/straight")" = "$(losses "$WORK/split")" ] || {
  paste <(losses "$WORK/straight") <(losses "$WORK/split")
  fail "losses differ between the straight and the resumed run"
}
[ "$(losses "$WORK/straight" | wc -l)" -eq 12 ] || fail "expected 12 metrics lines"
"$PY" - "$WORK/straight/checkpoints/step_00000012" "$WORK/split/checkpoints/step_00000012" <<'PY'
import sys, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
for name in ("model.h5", "optim.h5"):
    fa, fb = h5py.File(f"{a}/{name}"), h5py.File(f"{b}/{name}")
    keys = []
    fa.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    assert keys, f"no datasets in {name}"
    for k in keys:
        if not np.array_equal(np.array(fa[k]), np.array(fb[k])):
            sys.exit(f"{name}:{k} differs after resume")
    print(f"{name}: {len(keys)} datasets bit-identical")
PY
echo "1 passed, 0 failed"
