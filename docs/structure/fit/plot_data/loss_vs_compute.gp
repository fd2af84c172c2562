set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/structure/fit/loss_vs_compute.png'
set logscale xy
set xlabel 'training FLOPs C'
set ylabel 'loss (val_loss)'
set cblabel 'log10 N (nonembed)'
set palette rgb 33,13,10
set grid
set key top right
plot 'docs/structure/fit/plot_data/curves_encdec.dat' using 1:2:3 with points pt 7 ps 0.5 lc palette title 'encdec runs', \
     'docs/structure/fit/plot_data/frontier_encdec.dat' using 1:2 with lines lw 2 dt 1 lc rgb 'black' title 'encdec frontier', \
     (3.9264197104832768e+17/x)**0.12185637796556767 with lines lw 2 dt 1 lc rgb '#d62728' title 'encdec L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn.dat' using 1:2:3 with points pt 5 ps 0.5 lc palette title 'encdec/shared-xattn runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn.dat' using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'encdec/shared-xattn frontier', \
     (48261815624567032/x)**0.14444068880280253 with lines lw 2 dt 2 lc rgb '#d62728' title 'encdec/shared-xattn L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack.dat' using 1:2:3 with points pt 9 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack.dat' using 1:2 with lines lw 2 dt 3 lc rgb 'black' title 'encdec/shared-xattn+shared-stack frontier', \
     (58027088349144504/x)**0.14211660041351445 with lines lw 2 dt 3 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2:3 with points pt 13 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack+layerwise runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2 with lines lw 2 dt 4 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise frontier', \
     (2.0066513204736579e+17/x)**0.12679377007904177 with lines lw 2 dt 4 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack+layerwise L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2:3 with points pt 7 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack+layerwise+causal-input runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2 with lines lw 2 dt 1 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise+causal-input frontier', \
     (2.0451150847750198e+17/x)**0.12669243250898932 with lines lw 2 dt 1 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack+layerwise+causal-input L(C) fit'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/structure/fit/loss_vs_compute.svg'
replot
unset output
