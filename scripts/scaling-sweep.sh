#!/usr/bin/env bash
# The CPU decoder scaling-law sweep (docs/scaling/README.md): the Linux kernel corpus
# (scripts/prep-linux.sh), the IsoFLOP grid of jobs/examples/sweep-decoder-cpu.toml trained
# here in sequence, then `molt fit` over its runs and `molt plot` of the largest budget.
# Usage: scripts/scaling-sweep.sh path/to/molt [RANKS] [OUT]
# Finished runs are skipped and interrupted ones resume, so running it again continues.
set -euo pipefail
MOLT=${1:?usage: scripts/scaling-sweep.sh path/to/molt [RANKS] [OUT]}
MOLT=$(cd "$(dirname "$MOLT")" && pwd)/$(basename "$MOLT")
ranks=${2:-1}
out=${3:-docs/scaling/fit}
cd "$(dirname "$0")/.."
bash scripts/prep-linux.sh "$MOLT"
"$MOLT" sweep jobs/examples/sweep-decoder-cpu.toml --local --ranks "$ranks"
"$MOLT" fit sweeps/decoder-cpu/runs --out "$out"
