set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/structure/fit/loss_vs_params.png'
set logscale xy
set xlabel 'parameters N (nonembed)'
set ylabel 'loss (val_loss)'
set grid
plot 'docs/structure/fit/plot_data/loss_vs_params_encdec.dat' using 1:2 with points pt 7 lc 1 title 'encdec (most data per N)', \
     (5.0639365731099342e-10/x)**-0.042177444217543388 with lines dt 1 lc 1 title 'encdec L(N) fit', \
     'docs/structure/fit/plot_data/loss_vs_params_encdec_shared-xattn.dat' using 1:2 with points pt 5 lc 2 title 'encdec/shared-xattn (most data per N)', \
     (4.4156696938135458e-12/x)**-0.036668485967094544 with lines dt 2 lc 2 title 'encdec/shared-xattn L(N) fit', \
     'docs/structure/fit/plot_data/loss_vs_params_encdec_shared-xattn_shared-stack.dat' using 1:2 with points pt 9 lc 3 title 'encdec/shared-xattn+shared-stack (most data per N)', \
     (9.9932047299053658e-15/x)**-0.032059850160180044 with lines dt 3 lc 3 title 'encdec/shared-xattn+shared-stack L(N) fit', \
     'docs/structure/fit/plot_data/loss_vs_params_encdec_shared-xattn_shared-stack_layerwise.dat' using 1:2 with points pt 13 lc 4 title 'encdec/shared-xattn+shared-stack+layerwise (most data per N)', \
     (8.3099132761257096e-14/x)**-0.033190595619746452 with lines dt 4 lc 4 title 'encdec/shared-xattn+shared-stack+layerwise L(N) fit', \
     'docs/structure/fit/plot_data/loss_vs_params_encdec_shared-xattn_shared-stack_layerwise_causal-input.dat' using 1:2 with points pt 7 lc 5 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input (most data per N)', \
     (1.083314731403125e-13/x)**-0.033432554466446801 with lines dt 1 lc 5 title 'encdec/shared-xattn+shared-stack+layerwise+causal-input L(N) fit'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/structure/fit/loss_vs_params.svg'
replot
unset output
