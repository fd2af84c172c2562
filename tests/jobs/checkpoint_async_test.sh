#!/usr/bin/env bash
# checkpoint.async = true writes the same checkpoints as a synchronous write: the same run
# both ways gives bit-identical datasets in model.h5 and optim.h5 and the same state.toml
# (except wall_seconds), at every kept step, and the same losses; retention (keep the
# newest 2 plus every 4th) keeps the same folders. An async run stopped on request (75)
# leaves a complete checkpoint it then resumes from.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
make_dataset "$WORK/data"

args() { tiny_job_args "$WORK/data" "$1" --set train.steps=12 --set checkpoint.every=2 \
  --set checkpoint.keep_last=2 --set checkpoint.keep_every=4 --set eval.every=6 "${@:2}"; }
"$MOLT_BIN" train $(args "$WORK/sync" --set checkpoint.async=false) >/dev/null
"$MOLT_BIN" train $(args "$WORK/async" --set checkpoint.async=true) >"$WORK/async.log"
grep -q "checkpoint .*step_00000012" "$WORK/async.log" || fail "the async run did not report its last checkpoint"

kept() { ls "$1/checkpoints"; }
[ "$(kept "$WORK/sync")" = "$(kept "$WORK/async")" ] || {
  paste <(kept "$WORK/sync") <(kept "$WORK/async")
  fail "retention kept different folders"
}
[ "$(kept "$WORK/sync" | tr '\n' ' ')" = "latest step_00000004 step_00000008 step_00000010 step_00000012 " ] ||
  fail "retention (keep_last 2, keep_every 4) kept: $(kept "$WORK/sync" | tr '\n' ' ')"
[ "$(losses "$WORK/sync")" = "$(losses "$WORK/async")" ] || fail "losses differ between sync and async"

"$PY" - "$WORK/sync/checkpoints" "$WORK/async/checkpoints" <<'PY'
import os, re, sys, h5py, numpy as np
a_root, b_root = sys.argv[1], sys.argv[2]
steps = sorted(d for d in os.listdir(a_root) if d.startswith("step_"))
for step in steps:
    a, b = f"{a_root}/{step}", f"{b_root}/{step}"
    for name in ("model.h5", "optim.h5"):
        fa, fb = h5py.File(f"{a}/{name}", "r"), h5py.File(f"{b}/{name}", "r")
        ka, kb = [], []
        fa.visititems(lambda k, v: ka.append(k) if isinstance(v, h5py.Dataset) else None)
        fb.visititems(lambda k, v: kb.append(k) if isinstance(v, h5py.Dataset) else None)
        assert ka and ka == kb, f"{step}/{name}: dataset names differ"
        for k in ka:
            x, y = np.array(fa[k]), np.array(fb[k])
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                sys.exit(f"{step}/{name}:{k} differs between sync and async")
            if dict(fa[k].attrs) .keys() != dict(fb[k].attrs).keys():
                sys.exit(f"{step}/{name}:{k} attributes differ")
    strip = lambda t: re.sub(r"(?m)^wall_seconds = .*$", "", re.sub(r"(?m)^(dir|async) = .*$", "", t))
    sa, sb = (strip(open(f"{d}/state.toml").read()) for d in (a, b))
    if sa != sb:
        sys.exit(f"{step}/state.toml differs beyond wall_seconds, run.dir and checkpoint.async")
print(f"{len(steps)} checkpoints bit-identical")
PY

# Stopped on request with a write in flight: the checkpoint is complete before exit 75.
expect_status 75 "$MOLT_BIN" train $(args "$WORK/stopped" --set checkpoint.async=true) --stop-at 5
[ "$(cat "$WORK/stopped/checkpoints/latest")" = "step_00000005" ] || fail "latest is not step 5 after the stop"
"$MOLT_BIN" train $(args "$WORK/stopped" --set checkpoint.async=true) >"$WORK/resumed.log"
grep -q "resumed from .*step_00000005" "$WORK/resumed.log" || fail "did not resume from step 5"
[ "$(losses "$WORK/sync")" = "$(losses "$WORK/stopped")" ] || fail "the stopped and resumed async run's losses differ"
echo "1 passed, 0 failed"
