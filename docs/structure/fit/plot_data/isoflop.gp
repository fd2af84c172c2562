set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/structure/fit/isoflop.png'
set logscale x
set xlabel 'parameters N (nonembed)'
set ylabel 'loss (val_loss)'
set grid
set key outside right
plot 'docs/structure/fit/plot_data/isoflop_points_encdec_0.dat' using 1:2 with points pt 7 lc 1 title 'encdec C=4e+11', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_0.dat' using 1:2 with lines dt 1 lc 1 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_1.dat' using 1:2 with points pt 7 lc 2 title 'encdec C=1.2e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_1.dat' using 1:2 with lines dt 1 lc 2 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_2.dat' using 1:2 with points pt 7 lc 3 title 'encdec C=3.6e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_2.dat' using 1:2 with lines dt 1 lc 3 notitle, \
     'docs/structure/fit/plot_data/isoflop_minima_encdec.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'encdec minima N*', \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_0.dat' using 1:2 with points pt 5 lc 4 title 'encdec/shared-xattn C=4e+11', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_0.dat' using 1:2 with lines dt 2 lc 4 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_1.dat' using 1:2 with points pt 5 lc 5 title 'encdec/shared-xattn C=1.2e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_1.dat' using 1:2 with lines dt 2 lc 5 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_2.dat' using 1:2 with points pt 5 lc 6 title 'encdec/shared-xattn C=3.6e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_2.dat' using 1:2 with lines dt 2 lc 6 notitle, \
     'docs/structure/fit/plot_data/isoflop_minima_encdec_shared-xattn.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'encdec/shared-xattn minima N*', \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_0.dat' using 1:2 with points pt 9 lc 7 title 'encdec/shared-xattn+shared-stack C=4e+11', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_0.dat' using 1:2 with lines dt 3 lc 7 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_1.dat' using 1:2 with points pt 9 lc 8 title 'encdec/shared-xattn+shared-stack C=1.2e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_1.dat' using 1:2 with lines dt 3 lc 8 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_2.dat' using 1:2 with points pt 9 lc 9 title 'encdec/shared-xattn+shared-stack C=3.6e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_2.dat' using 1:2 with lines dt 3 lc 9 notitle, \
     'docs/structure/fit/plot_data/isoflop_minima_encdec_shared-xattn_shared-stack.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'encdec/shared-xattn+shared-stack minima N*', \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_0.dat' using 1:2 with points pt 13 lc 10 title 'encdec/shared-xattn+shared-stack+layerwise C=4e+11', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_0.dat' using 1:2 with lines dt 4 lc 10 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_1.dat' using 1:2 with points pt 13 lc 11 title 'encdec/shared-xattn+shared-stack+layerwise C=1.2e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_1.dat' using 1:2 with lines dt 4 lc 11 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_2.dat' using 1:2 with points pt 13 lc 12 title 'encdec/shared-xattn+shared-stack+layerwise C=3.6e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_2.dat' using 1:2 with lines dt 4 lc 12 notitle, \
     'docs/structure/fit/plot_data/isoflop_minima_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise minima N*', \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_causal-input_0.dat' using 1:2 with points pt 7 lc 13 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input C=4e+11', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_causal-input_0.dat' using 1:2 with lines dt 1 lc 13 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_causal-input_1.dat' using 1:2 with points pt 7 lc 14 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input C=1.2e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_causal-input_1.dat' using 1:2 with lines dt 1 lc 14 notitle, \
     'docs/structure/fit/plot_data/isoflop_points_encdec_shared-xattn_shared-stack_layerwise_causal-input_2.dat' using 1:2 with points pt 7 lc 15 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input C=3.6e+12', \
     'docs/structure/fit/plot_data/isoflop_curve_encdec_shared-xattn_shared-stack_layerwise_causal-input_2.dat' using 1:2 with lines dt 1 lc 15 notitle, \
     'docs/structure/fit/plot_data/isoflop_minima_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'encdec/shared-xattn+shared-stack+layerwise+causal-input minima N*'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/structure/fit/isoflop.svg'
replot
unset output
