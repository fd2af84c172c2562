#!/usr/bin/env bash
# make-portable.sh BUILD_DIR OUT_DIR: molt as one folder for a Linux box that has the NVIDIA
# driver and CUDA 13 (cudart, cuBLAS, cuDNN, NCCL) but none of molt's Debian packages (no MPI,
# HDF5, SentencePiece, OpenBLAS, TOML++) and no network. Writes OUT_DIR/molt-portable/ and
# OUT_DIR/molt-portable.tar.xz, which unpacks to molt-portable/. On the target:
#   source molt-portable/env.sh && mpirun -np 1 molt train JOB.toml
#
# What goes in, and why:
# - bin/: molt, GPU test programs of BUILD_DIR/bin (*cuda*test*) and BUILD_DIR/tests
#   (molt_kernels_tests, molt_model_tests, molt_dist_tests), Open MPI's orterun (as
#   mpirun), orted and ompi_info.
# - lib/: every library ldd reports for those and for the kept plugins, except glibc, the
#   driver and the CUDA toolkit, which the target has. libstdc++ and libgcc_s go to compat/
#   instead: a GCC 12 libstdc++ found first would break the target's newer programs.
# - lib/openmpi3/, lib/pmix/: Open MPI's and PMIx's plugins, less the fabric ones (UCX, OFI,
#   verbs, PSM), which need libraries a single node does without (it uses shared memory,
#   self and TCP).
# - lib/hwloc/: hwloc's PCI plugin, so the topology Open MPI sees holds the GPUs; its
#   other plugins (OpenCL, GL, XML) would pull in X11 and ICU.
# - share/openmpi, share/pmix: help texts; etc/: Open MPI's parameters file.
# - RPATH, not LD_LIBRARY_PATH, finds lib/: the bundle's libcrypto or libz on the loader path
#   would break the target's own programs (Python among them). Open MPI's libraries carry a
#   RUNPATH that hides the executable's RPATH from them, so every object gets its own.
# - env.sh: the variables Open MPI and PMIx need to work from a moved prefix, and the CUDA
#   library folder on LD_LIBRARY_PATH (the only thing put there).
#
# MOLT_PORTABLE_XZ_LEVEL (0-9, default 6) trades packed size for time (the test uses 0).
set -euo pipefail

die() { echo "make-portable: $*" >&2; exit 2; }

[ $# -eq 2 ] || die "usage: scripts/make-portable.sh BUILD_DIR OUT_DIR"
build=$1
out=$2
[ -n "$out" ] || die "OUT_DIR is empty"
[ -d "$build" ] || die "no build folder $build (build first: make build)"
[ -x "$build/bin/molt" ] || die "no molt binary at $build/bin/molt (build first: make build)"
xz_level=${MOLT_PORTABLE_XZ_LEVEL:-6}
[[ "$xz_level" =~ ^[0-9]$ ]] || die "MOLT_PORTABLE_XZ_LEVEL must be 0-9, not '$xz_level'"
for tool in patchelf xz ldd ompi_info; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
source_dir=$(cd "$(dirname "$0")/.." && pwd)

# Where this machine's Open MPI lives (Debian: /usr/lib/<arch>/openmpi/lib/openmpi3 ...).
ompi_path() {
  ompi_info --path all --parsable | sed -n "s|^path:$1:||p" | head -n 1
}
ompi_bindir=$(ompi_path bindir)
ompi_plugins=$(ompi_path pkglibdir)
ompi_help=$(ompi_path pkgdatadir)
ompi_etc=$(ompi_path sysconfdir)
for dir in "$ompi_bindir" "$ompi_plugins" "$ompi_help" "$ompi_etc"; do
  [ -d "$dir" ] || die "Open MPI folder $dir (from ompi_info) is missing"
done
# PMIx: the plugins sit in pmix/ beside the real libpmix, the help texts in ../share/pmix.
libpmix=$(ldd "$ompi_plugins/mca_pmix_ext3x.so" 2>/dev/null | awk '$1 ~ /^libpmix\.so/ {print $3}')
[ -n "$libpmix" ] && [ -f "$libpmix" ] || die "cannot find libpmix through $ompi_plugins/mca_pmix_ext3x.so"
pmix_root=$(dirname "$(readlink -f "$libpmix")")
pmix_plugins=$pmix_root/pmix
pmix_help=$pmix_root/../share/pmix
[ -d "$pmix_plugins" ] && [ -d "$pmix_help" ] || die "no PMIx plugins or help texts beside $libpmix"

bundle=$out/molt-portable
rm -rf "$bundle" "$out/molt-portable.tar.xz"
mkdir -p "$bundle"/{bin,lib/openmpi3,lib/pmix,lib/hwloc,compat,share,etc}

# --- programs and plugins ------------------------------------------------------------------
cp "$build/bin/molt" "$bundle/bin/"
for program in "$build"/bin/*cuda*test*; do
  [ -f "$program" ] && [ -x "$program" ] && cp "$program" "$bundle/bin/"
done
# The test programs that hold the GPU tests (ops, model steps, communicators), so a GPU box
# without the build's packages can run them: bin/molt_kernels_tests --gtest_filter='*Cuda*'.
for program in "$build"/tests/molt_{kernels,model,dist}_tests; do
  [ -f "$program" ] && [ -x "$program" ] && cp "$program" "$bundle/bin/"
done
cp "$ompi_bindir/orterun" "$bundle/bin/mpirun"
cp "$ompi_bindir/orted" "$ompi_bindir/ompi_info" "$bundle/bin/"
for plugin in "$ompi_plugins"/*.so; do
  case $(basename "$plugin") in
    *_ucx.so | *_ofi.so | *_openib.so | *_psm*.so) ;;
    *) cp "$plugin" "$bundle/lib/openmpi3/" ;;
  esac
done
cp "$pmix_plugins"/*.so "$bundle/lib/pmix/"
# hwloc looks for plugins in a folder fixed at its build (HWLOC_PLUGINS_PATH in env.sh moves it).
libhwloc=$(ldd "$ompi_bindir/orterun" | awk '$1 ~ /^libhwloc\.so/ {print $3}')
hwloc_pci=$(dirname "$(readlink -f "$libhwloc")")/hwloc/hwloc_pci.so
[ -f "$hwloc_pci" ] && cp "$hwloc_pci" "$bundle/lib/hwloc/"

# --- the libraries they load ---------------------------------------------------------------
# The target brings these itself: glibc, the driver, the CUDA toolkit.
provided_by_target() {
  case $1 in
    ld-linux* | linux-vdso* | libc.so* | libm.so* | libmvec.so* | libpthread.so* | libdl.so* | \
      librt.so* | libresolv.so* | libutil.so* | libanl.so* | libnsl.so* | libnss_* | \
      libthread_db.so* | libBrokenLocale.so* | libc_malloc_debug.so*) return 0 ;;
    libcuda.so* | libnvidia-*) return 0 ;;
    libcudart.so* | libcublas.so* | libcublasLt.so* | libnccl.so* | libcudnn*.so* | \
      libcufft*.so* | libcurand.so* | libcusparse*.so* | libcusolver*.so* | libnvrtc*.so* | \
      libnvJitLink.so* | libnvToolsExt.so* | libnvtx*.so* | libcupti.so* | libcufile*.so* | \
      libnpp*.so*) return 0 ;;
  esac
  return 1
}

declare -A library_path=()
missing=()
plugins=("$bundle"/lib/openmpi3/*.so "$bundle"/lib/pmix/*.so)
[ -f "$bundle/lib/hwloc/hwloc_pci.so" ] && plugins+=("$bundle/lib/hwloc/hwloc_pci.so")
for object in "$bundle"/bin/* "${plugins[@]}"; do
  # "name => /path (0x...)" or "name => not found"; lines without "=>" are the loader itself.
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    provided_by_target "$name" && continue
    if [ "$path" = "not" ]; then
      missing+=("$name (needed by $(basename "$object"))")
    else
      library_path[$name]=$path
    fi
  done < <(ldd "$object")
done
[ ${#missing[@]} -eq 0 ] || die "ldd cannot find: ${missing[*]}"
for name in "${!library_path[@]}"; do
  case $name in
    libstdc++.so* | libgcc_s.so*) cp -L "${library_path[$name]}" "$bundle/compat/$name" ;;
    *) cp -L "${library_path[$name]}" "$bundle/lib/$name" ;;
  esac
done

# --- RPATH: bin/ -> ../lib, lib/ -> itself, plugins -> their parent --------------------------
# DT_RPATH (--force-rpath), unlike DT_RUNPATH, also serves the dependencies of dependencies.
chmod -R u+w "$bundle"
set_rpath() {
  local rpath=$1
  shift
  for object in "$@"; do patchelf --force-rpath --set-rpath "$rpath" "$object"; done
}
set_rpath '$ORIGIN/../lib' "$bundle"/bin/*
set_rpath '$ORIGIN' "$bundle"/lib/*.so*
set_rpath '$ORIGIN/..' "${plugins[@]}"

# --- help texts, parameters, examples ----------------------------------------------------------
cp -r "$ompi_help" "$bundle/share/openmpi"
cp -r "$pmix_help" "$bundle/share/pmix"
cp "$ompi_etc/openmpi-mca-params.conf" "$bundle/etc/"
[ -f "$ompi_etc/openmpi-default-hostfile" ] && cp "$ompi_etc/openmpi-default-hostfile" "$bundle/etc/"
cat >>"$bundle/etc/openmpi-mca-params.conf" <<'EOF'

# molt portable bundle: start ranks on this machine without ssh (even a singleton would
# otherwise start orted through the ssh launcher), and copy between ranks through shared
# memory rather than CMA, which containers often deny.
plm = isolated
btl_vader_single_copy_mechanism = none
EOF
mkdir -p "$bundle/jobs"
cp -r "$source_dir/jobs/examples" "$bundle/jobs/"

cat >"$bundle/env.sh" <<'EOF'
# Source this file to run the molt portable bundle from where it was unpacked:
#   source molt-portable/env.sh
#   mpirun -np 1 molt train molt-portable/jobs/examples/tiny-gpt.toml --set data.dataset=DIR
# Use --oversubscribe to run more ranks than cores. MOLT_CUDA_LIB=DIR[:DIR] names the CUDA
# library folder(s) when they are not in /usr/local/cuda or Python's nvidia wheels. bash and
# zsh find the bundle themselves; other shells need MOLT_PORTABLE=FOLDER set first.
if [ -n "${BASH_SOURCE:-}" ]; then
  molt_env_file=${BASH_SOURCE[0]}
elif [ -n "${ZSH_VERSION:-}" ]; then
  eval 'molt_env_file=${(%):-%x}'
else
  molt_env_file=${MOLT_PORTABLE:-.}/env.sh
fi
MOLT_PORTABLE=$(cd "$(dirname "$molt_env_file")" && pwd)
unset molt_env_file
if [ ! -x "$MOLT_PORTABLE/bin/molt" ]; then
  echo "molt-portable: cannot tell where the bundle is; set MOLT_PORTABLE=FOLDER and source env.sh again" >&2
  unset MOLT_PORTABLE
  return 1
fi
export MOLT_PORTABLE

# Open MPI, PMIx and hwloc find their helpers, plugins, help texts and parameters from these,
# since the paths compiled into them point to where they were built.
export OPAL_PREFIX=$MOLT_PORTABLE
export OPAL_LIBDIR=$MOLT_PORTABLE/lib
export OPAL_SYSCONFDIR=$MOLT_PORTABLE/etc
export PMIX_LIBDIR=$MOLT_PORTABLE/lib
export PMIX_DATADIR=$MOLT_PORTABLE/share
export HWLOC_PLUGINS_PATH=$MOLT_PORTABLE/lib/hwloc
# Only matters when running as root (containers).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
case ":$PATH:" in
  *":$MOLT_PORTABLE/bin:"*) ;;
  *) export PATH=$MOLT_PORTABLE/bin:$PATH ;;
esac

# The target's CUDA libraries: the bundle's own libraries are found through RPATH, so this
# is the only folder put on LD_LIBRARY_PATH.
molt_cuda_lib=${MOLT_CUDA_LIB:-}
if [ -z "$molt_cuda_lib" ]; then
  for molt_dir in "${CUDA_HOME:-/usr/local/cuda}/lib64" "${CUDA_HOME:-/usr/local/cuda}/lib" \
    /usr/local/cuda/lib64 /usr/local/cuda/lib; do
    if [ -e "$molt_dir/libcudart.so.13" ]; then molt_cuda_lib=$molt_dir; break; fi
  done
  # Else the pip wheels (nvidia-*-cu13) of the Python on PATH.
  if [ -z "$molt_cuda_lib" ] && command -v python3 >/dev/null 2>&1; then
    for molt_dir in $(python3 -c 'import glob, site
dirs = site.getsitepackages() + [site.getusersitepackages()]
print(" ".join(sorted({p for d in dirs for p in glob.glob(d + "/nvidia/*/lib")})))' 2>/dev/null); do
      molt_cuda_lib=${molt_cuda_lib:+$molt_cuda_lib:}$molt_dir
    done
  fi
fi
if [ -n "$molt_cuda_lib" ]; then
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$molt_cuda_lib:"*) ;;
    *) export LD_LIBRARY_PATH=$molt_cuda_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ;;
  esac
fi
unset molt_cuda_lib molt_dir

# What the loader still misses, said now rather than at the first mpirun.
molt_missing=$(ldd "$MOLT_PORTABLE/bin/molt" 2>&1 | grep -E 'not found' || true)
if [ -n "$molt_missing" ]; then
  echo "molt-portable: the loader does not find everything molt needs:" >&2
  echo "$molt_missing" >&2
  case $molt_missing in
    *libcudart*) echo "molt-portable: set MOLT_CUDA_LIB to the folder holding libcudart.so.13 and source env.sh again" >&2 ;;
  esac
  case $molt_missing in
    *GLIBCXX* | *CXXABI*) echo "molt-portable: this system's libstdc++ is older than the bundle's; run with LD_LIBRARY_PATH=$MOLT_PORTABLE/compat:\$LD_LIBRARY_PATH (only for molt: it can break other programs)" >&2 ;;
  esac
  case $molt_missing in
    *GLIBC_*) echo "molt-portable: the bundle needs glibc 2.36 or newer" >&2 ;;
  esac
fi
unset molt_missing
EOF

# --- pack ------------------------------------------------------------------------------------
tar -C "$out" -cf - molt-portable | xz -T0 -"$xz_level" >"$out/molt-portable.tar.xz.tmp"
mv "$out/molt-portable.tar.xz.tmp" "$out/molt-portable.tar.xz"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
bundle_bytes=$(du -sb "$bundle" | cut -f1)
packed_bytes=$(stat -c %s "$out/molt-portable.tar.xz")
libraries=("$bundle"/lib/*.so*)
echo "make-portable: $bundle: $(mib "$bundle_bytes") (${#libraries[@]} libraries," \
  "${#plugins[@]} plugins)"
echo "make-portable: $out/molt-portable.tar.xz: $(mib "$packed_bytes") (xz -$xz_level)"
