#!/usr/bin/env python3
"""Loss against compute for every rung of the structure-ladder sweep, on one plot.

Reads SWEEP/*/runs/*/summary.json (the rung sweeps of jobs/examples/structure/), writes
OUT.png and OUT.svg through gnuplot: every run as a point coloured by its rung, and each
rung's compute frontier (its best loss at each budget) as a line.
Usage: scripts/structure-plot.py [SWEEP_DIR] [OUT_STEM]
       (defaults: sweeps/structure docs/structure/loss_vs_compute)
"""
import glob
import json
import os
import subprocess
import sys

RUNGS = [  # folder, legend
    ("0-t5", "0: T5 v1.1"),
    ("1-shared-xattn", "1: + shared cross-attention"),
    ("2-shared-stack", "2: + one stack"),
    ("3-layerwise", "3: + layerwise (decoder-only prefix-LM)"),
    ("4-causal", "4: + causal input (causal decoder-only)"),
]


def main():
    sweep = sys.argv[1] if len(sys.argv) > 1 else "sweeps/structure"
    stem = sys.argv[2] if len(sys.argv) > 2 else "docs/structure/loss_vs_compute"
    data_dir = os.path.join(os.path.dirname(stem) or ".", "plot_data")
    os.makedirs(data_dir, exist_ok=True)
    plots = []
    for index, (folder, legend) in enumerate(RUNGS):
        runs = []
        for path in glob.glob(os.path.join(sweep, folder, "runs", "*", "summary.json")):
            summary = json.load(open(path))
            runs.append((summary["budget"], summary["C"], summary["val_loss"]))
        if not runs:
            sys.exit(f"structure-plot: no finished runs under {sweep}/{folder}/runs")
        points = os.path.join(data_dir, f"rung{index}_runs.dat")
        frontier = os.path.join(data_dir, f"rung{index}_frontier.dat")
        with open(points, "w") as out:
            for _, flops, loss in sorted(runs):
                out.write(f"{flops:.17g} {loss:.17g}\n")
        best = {}
        for budget, flops, loss in runs:
            if budget not in best or loss < best[budget][1]:
                best[budget] = (flops, loss)
        with open(frontier, "w") as out:
            for budget in sorted(best):
                out.write(f"{best[budget][0]:.17g} {best[budget][1]:.17g}\n")
        colour = index + 1
        plots.append(f"'{points}' using 1:2 with points pt 7 ps 0.6 lc {colour} notitle")
        plots.append(f"'{frontier}' using 1:2 with linespoints lw 2 pt 5 lc {colour} title '{legend}'")
    body = "\n".join([
        "set logscale x",
        "set xrange [3e11:5e12]",
        "set xlabel 'training FLOPs C (molt model/flops.h)'",
        "set ylabel 'validation loss (nats/token), prefix-LM target'",
        "set key top right",
        "set grid",
        "set title 'Structure ladder at matched compute: runs (dots) and each rung''s frontier'",
        "plot " + ", \\\n     ".join(plots),
    ])
    for terminal, ext in (("pngcairo size 1000,700", "png"), ("svg size 1000,700", "svg")):
        script = f"set terminal {terminal}\nset output '{stem}.{ext}'\n{body}\n"
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    print(f"wrote {stem}.png and {stem}.svg")


if __name__ == "__main__":
    main()
