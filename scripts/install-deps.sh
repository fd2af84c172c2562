#!/usr/bin/env bash
# Installs what molt needs from Debian's packages, only when something is missing.
# Used by `make demo` and `make test`, so a fresh Debian 12 machine needs nothing else.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin           # MPI: process group and CPU all-reduce
  libhdf5-openmpi-dev                  # token shards and checkpoints
  libtomlplusplus-dev                  # job files
  libgtest-dev libgmock-dev            # unit tests
  libsentencepiece-dev sentencepiece   # tokenizer
  libcli11-dev nlohmann-json3-dev      # command line, JSON metrics
  libopenblas-dev                      # CPU GEMM
  liblbfgs-dev                         # L-BFGS for molt fit (scaling laws)
  gnuplot-nox                          # plots for molt fit / molt plot
  python3-torch python3-h5py python3-numpy python3-scipy  # test oracles at /usr/bin/python3
  npm xz-utils patchelf                # demo corpus (npm pack), portable bundle (make portable)
  slurm-wlm munge                      # the localhost Slurm cluster of tests/slurm
)

# Commands that count as present when found on PATH, however they were installed (a Node.js
# from another repository brings its own npm, which Debian's npm package would conflict with).
declare -A provided_by_command=([npm]=npm)

missing=()
for p in "${packages[@]}"; do
  if [ -n "${provided_by_command[$p]:-}" ] && command -v "${provided_by_command[$p]}" >/dev/null; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "molt: installing missing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "molt: packages installed"
