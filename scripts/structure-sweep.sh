#!/usr/bin/env bash
# The structure-ladder comparison on the CPU (docs/structure/README.md): five rung sweeps
# (jobs/examples/structure/*.toml), each 5 shapes x 3 compute budgets on the prefix-LM task
# over the Linux kernel corpus, then one `molt fit` over all of them (one fit per rung) and
# the plot of every rung against compute (scripts/structure-plot.py).
# Usage: scripts/structure-sweep.sh path/to/molt [RANKS] [FIT_OUT]
# Prepares data/linux first when it is missing (scripts/prep-linux.sh). Finished runs are
# skipped and interrupted ones resume, so running it again continues.
set -euo pipefail
MOLT=${1:?usage: scripts/structure-sweep.sh path/to/molt [RANKS] [FIT_OUT]}
MOLT=$(cd "$(dirname "$MOLT")" && pwd)/$(basename "$MOLT")
ranks=${2:-1}
cd "$(dirname "$0")/.."
bash scripts/prep-linux.sh "$MOLT"
for rung in jobs/examples/structure/[0-9]-*.toml; do
  echo "structure-sweep: $rung"
  "$MOLT" sweep "$rung" --local --ranks "$ranks"
done
"$MOLT" fit sweeps/structure/*/runs --out "${3:-docs/structure/fit}"
/usr/bin/python3 scripts/structure-plot.py sweeps/structure "$(dirname "${3:-docs/structure/fit}")/loss_vs_compute"
