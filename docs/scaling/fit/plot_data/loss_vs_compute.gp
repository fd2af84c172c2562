set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/scaling/fit/loss_vs_compute.png'
set logscale xy
set xlabel 'training FLOPs C'
set ylabel 'loss (val_loss)'
set cblabel 'log10 N (nonembed)'
set palette rgb 33,13,10
set grid
set key top right
plot 'docs/scaling/fit/plot_data/curves_decoder.dat' using 1:2:3 with points pt 7 ps 0.5 lc palette title 'decoder runs', \
     'docs/scaling/fit/plot_data/frontier_decoder.dat' using 1:2 with lines lw 2 dt 1 lc rgb 'black' title 'decoder frontier', \
     (1.509453210641239e+17/x)**0.12812288502874214 with lines lw 2 dt 1 lc rgb '#d62728' title 'decoder L(C) fit'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/scaling/fit/loss_vs_compute.svg'
replot
unset output
