set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/scaling/fit/loss_vs_params.png'
set logscale xy
set xlabel 'parameters N (nonembed)'
set ylabel 'loss (val_loss)'
set grid
plot 'docs/scaling/fit/plot_data/loss_vs_params_decoder.dat' using 1:2 with points pt 7 lc 1 title 'decoder (most data per N)', \
     (3.7281963512683376e-10/x)**-0.041047197099069233 with lines dt 1 lc 1 title 'decoder L(N) fit'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/scaling/fit/loss_vs_params.svg'
replot
unset output
