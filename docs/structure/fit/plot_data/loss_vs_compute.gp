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
     (6.1731376580845402e+17/x)**0.11685950565102826 with lines lw 2 dt 1 lc rgb '#d62728' title 'encdec L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn.dat' using 1:2:3 with points pt 5 ps 0.5 lc palette title 'encdec/shared-xattn runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn.dat' using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'encdec/shared-xattn frontier', \
     (60860238486993128/x)**0.13978877557478003 with lines lw 2 dt 2 lc rgb '#d62728' title 'encdec/shared-xattn L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack.dat' using 1:2:3 with points pt 9 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack.dat' using 1:2 with lines lw 2 dt 3 lc rgb 'black' title 'encdec/shared-xattn+shared-stack frontier', \
     (96880585902880512/x)**0.1332976664564802 with lines lw 2 dt 3 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2:3 with points pt 13 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack+layerwise runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2 with lines lw 2 dt 4 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise frontier', \
     (2.140320448849545e+17/x)**0.12446186925291251 with lines lw 2 dt 4 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack+layerwise L(C) fit', \
     'docs/structure/fit/plot_data/curves_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2:3 with points pt 7 ps 0.5 lc palette title 'encdec/shared-xattn+shared-stack+layerwise+causal-input runs', \
     'docs/structure/fit/plot_data/frontier_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2 with lines lw 2 dt 1 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise+causal-input frontier', \
     (2.1710944479759338e+17/x)**0.12438638513510733 with lines lw 2 dt 1 lc rgb '#d62728' title 'encdec/shared-xattn+shared-stack+layerwise+causal-input L(C) fit'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/structure/fit/loss_vs_compute.svg'
replot
unset output
