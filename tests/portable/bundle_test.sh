#!/usr/bin/env bash
# scripts/make-portable.sh gives a bundle that runs where molt's Debian packages (MPI, HDF5,
# SentencePiece, OpenBLAS, TOML++) are not installed. The bundle is built from this build,
# packed, unpacked elsewhere with Python's tarfile, and used from an empty environment
# (env -i, PATH=/usr/bin:/bin, HOME, thread counts, then the bundle's env.sh):
#   (a) ldd of every program and every bundled library and plugin finds everything, and
#       finds everything outside the bundle only among glibc, libstdc++/libgcc_s and CUDA,
#       so this machine's Debian packages are not what it uses (the same check flags the
#       build's own molt, which does use them);
#   (b) molt prep, then mpirun -np 1 molt train on tiny-gpt write summary.json, with no Open
#       MPI help message; every object the loader maps in mpirun and the ranks, plugins
#       included (LD_DEBUG=files), passes (a);
#   (c) the same with mpirun -np 2 --oversubscribe.
# Bad input: a missing build folder is exit 2 with one message.
source "$MOLT_SOURCE_DIR/tests/fixtures/common.sh"
build=$(cd "$(dirname "$MOLT_BIN")/.." && pwd)
script=$MOLT_SOURCE_DIR/scripts/make-portable.sh

expect_status 2 bash "$script" "$WORK/no-such-build" "$WORK/dist"
grep -q "no build folder $WORK/no-such-build" "$WORK/err.txt" || fail "no message naming the missing build folder"
[ "$(wc -l <"$WORK/err.txt")" -eq 1 ] || { cat "$WORK/err.txt"; fail "want one line of message"; }

# Build and pack (xz -0, the fastest: the level is not under test), then unpack elsewhere and
# drop the unpacked original, so only the archive's copy can be used.
MOLT_PORTABLE_XZ_LEVEL=0 bash "$script" "$build" "$WORK/dist" >"$WORK/make.log" 2>&1 ||
  { cat "$WORK/make.log"; fail "make-portable.sh failed"; }
grep -q "molt-portable.tar.xz: .* MiB" "$WORK/make.log" || fail "no packed size printed"
rm -rf "$WORK/dist/molt-portable"
mkdir "$WORK/target"
"$PY" -m tarfile -e "$WORK/dist/molt-portable.tar.xz" "$WORK/target"
bundle=$WORK/target/molt-portable
[ -f "$bundle/env.sh" ] && [ -x "$bundle/bin/molt" ] || fail "the archive lacks env.sh or bin/molt"
for library in "$bundle"/lib/libstdc++.so* "$bundle"/lib/libgcc_s.so*; do
  [ ! -e "$library" ] || fail "$library: libstdc++ and libgcc_s belong in compat/ only"
done
[ -f "$bundle/compat/libstdc++.so.6" ] || fail "no compat/libstdc++.so.6"

# clean CMD...: CMD in an empty environment with the bundle's env.sh sourced.
clean() {
  env -i PATH=/usr/bin:/bin HOME="$HOME" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    bash -c 'source "$0/env.sh" && exec "$@"' "$bundle" "$@"
}
[ "$(clean bash -c 'command -v mpirun')" = "$bundle/bin/mpirun" ] || fail "mpirun is not the bundle's"
# The bundle's parameters file is in force: no ssh launcher (this machine has ssh, a target
# may not), no CMA.
params=$(clean bash -c 'ompi_info --parsable --level 9 --param plm all; ompi_info --parsable --level 9 --param btl vader')
grep -q ":plm:value:isolated$" <<<"$params" && grep -q "single_copy_mechanism:value:none$" <<<"$params" ||
  { echo "$params" >&2; fail "the bundle's etc/openmpi-mca-params.conf is not in force"; }

# check_objects ROOT [--ldd OBJECT... | --inits LD_DEBUG_FILE...]: every library that ldd
# resolves for the objects (or that the loader initialised in a traced run) is found, and lies
# under ROOT unless the target system brings it (glibc, libstdc++/libgcc_s, driver, CUDA).
cat >"$WORK/check_objects.py" <<'EOF'
import concurrent.futures, os, re, subprocess, sys

root = os.path.realpath(sys.argv[1]) + "/"
mode, objects = sys.argv[2], sys.argv[3:]
target_brings = re.compile(
    r"(linux-vdso|ld-linux-x86-64|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil"
    r"|libanl|libnsl|libnss_\w+|libstdc\+\+|libgcc_s|libcuda|libnvidia-[\w-]+|libcudart"
    r"|libcublas|libcublasLt|libnccl|libcudnn\w*)\.so[.\d]*$")

def problems(owner, path):
    if path == "not found":
        return [f"{owner}: not found"]
    name = os.path.basename(path)
    if os.path.realpath(path).startswith(root) or target_brings.match(name):
        return []
    return [f"{owner}: {path} lies outside the bundle"]

def ldd(obj):
    out = subprocess.run(["ldd", obj], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (not found|\S+)", line) or re.match(r"\s*(/\S+) \(", line)
        if m:
            found += problems(f"{os.path.basename(obj)} -> {m.group(1)}", m.group(m.lastindex))
    if not out.strip():
        found.append(f"{obj}: ldd printed nothing")
    return found

found = []
if mode == "--ldd":
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for result in pool.map(ldd, objects):
            found += result
else:
    for trace in objects:
        for line in open(trace, errors="replace"):
            m = re.search(r"calling init: (\S+)", line)
            if m:
                found += problems(os.path.basename(trace), m.group(1))
print("\n".join(found))
sys.exit(1 if found else 0)
EOF
check() { clean "$PY" "$WORK/check_objects.py" "$bundle" "$@"; }

# (a) Programs, libraries and plugins. First, the check itself sees the build's own molt use
# this machine's packages.
if check --ldd "$MOLT_BIN" >"$WORK/own.txt"; then fail "the check passes the build's own molt"; fi
grep -q "libhdf5_openmpi.so.103 lies outside" "$WORK/own.txt" || { cat "$WORK/own.txt"; fail "libhdf5 not flagged"; }
mapfile -t objects < <(find "$bundle/bin" "$bundle/lib" -type f \( -perm -u+x -path '*/bin/*' -o -name '*.so*' \))
[ "${#objects[@]}" -gt 100 ] || fail "only ${#objects[@]} objects in the bundle"
for program in molt mpirun orted ompi_info molt_kernels_tests molt_model_tests molt_dist_tests; do
  # grep without -q reads all its input: -q would exit at the first match, and printf, still
  # writing, would fail with SIGPIPE, which pipefail turns into a false "missing".
  printf '%s\n' "${objects[@]}" | grep -x "$bundle/bin/$program" >/dev/null || fail "bin/$program missing"
done
check --ldd "${objects[@]}" >"$WORK/ldd.txt" || { cat "$WORK/ldd.txt"; fail "ldd: libraries missing or outside the bundle"; }

# The GPU test programs run from the bundle too (here their CUDA cases skip).
clean molt_kernels_tests --gtest_filter='TensorTest.*:*Cuda*AdamW*' >"$WORK/gtest.log" 2>&1 ||
  { cat "$WORK/gtest.log"; fail "molt_kernels_tests from the bundle failed"; }
grep -q "PASSED" "$WORK/gtest.log" || { cat "$WORK/gtest.log"; fail "molt_kernels_tests: no PASSED line"; }

# (b) prep and a 1-rank run, traced.
"$PY" "$MOLT_SOURCE_DIR/tests/fixtures/make_corpus.py" "$WORK/corpus" 400 >/dev/null
clean molt prep "$WORK/corpus" -o "$WORK/data" --vocab-size 512 --sentinels 8 --val-fraction 0.1 \
  >"$WORK/prep.log" 2>&1 || { cat "$WORK/prep.log"; fail "molt prep from the bundle failed"; }
train() {
  local ranks=$1 run=$WORK/run-$1
  shift
  mkdir "$WORK/trace-$ranks"
  clean env LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/trace-$ranks/ld" \
    mpirun -np "$ranks" "$@" molt train "$bundle/jobs/examples/tiny-gpt.toml" \
    --set data.dataset="$WORK/data" --set run.dir="$run" --set model.n_ctx=32 \
    --set data.seq_len=32 --set eval.batches=2 --set train.steps=4 >"$run.log" 2>&1 ||
    { cat "$run.log"; fail "mpirun -np $ranks molt train from the bundle failed"; }
  [ -f "$run/summary.json" ] || { cat "$run.log"; fail "-np $ranks: no summary.json"; }
  if grep -q -e '^-----' -e 'WARNING' "$run.log"; then cat "$run.log"; fail "-np $ranks: Open MPI complained"; fi
  local traces=("$WORK/trace-$ranks"/ld.*)
  [ "${#traces[@]}" -ge $((ranks + 1)) ] || fail "-np $ranks: ${#traces[@]} traces, want mpirun + ranks"
  grep -qh "calling init: $bundle/lib/openmpi3/mca_btl_self.so" "${traces[@]}" ||
    fail "-np $ranks: the trace shows no plugin loaded from the bundle"
  check --inits "${traces[@]}" >"$WORK/inits-$ranks.txt" ||
    { cat "$WORK/inits-$ranks.txt"; fail "-np $ranks: a loaded library lies outside the bundle"; }
}
train 1
# (c) two ranks, more than this machine may spare.
train 2 --oversubscribe
echo "bundle: $(du -sm "$bundle" | cut -f1) MiB unpacked, ${#objects[@]} objects checked"
