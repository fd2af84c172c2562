set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/structure/fit/observed_vs_fitted.png'
set logscale xy
set xlabel 'fitted L(N,D) = E + A/N^α + B/D^β'
set ylabel 'observed loss (val_loss)'
set grid
set key top left
plot 'docs/structure/fit/plot_data/observed_vs_fitted_encdec.dat' using 1:2 with points pt 7 lc 1 title 'encdec', \
     'docs/structure/fit/plot_data/observed_vs_fitted_encdec_shared-xattn.dat' using 1:2 with points pt 5 lc 2 title 'encdec/shared-xattn', \
     'docs/structure/fit/plot_data/observed_vs_fitted_encdec_shared-xattn_shared-stack.dat' using 1:2 with points pt 9 lc 3 title 'encdec/shared-xattn+shared-stack', \
     'docs/structure/fit/plot_data/observed_vs_fitted_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2 with points pt 13 lc 4 title 'encdec/shared-xattn+shared-stack+layerwise', \
     'docs/structure/fit/plot_data/observed_vs_fitted_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2 with points pt 7 lc 5 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input', \
     x with lines lc rgb 'gray' dt 2 title 'observed = fitted'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/structure/fit/observed_vs_fitted.svg'
replot
unset output
