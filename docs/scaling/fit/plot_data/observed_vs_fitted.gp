set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/scaling/fit/observed_vs_fitted.png'
set logscale xy
set xlabel 'fitted L(N,D) = E + A/N^α + B/D^β'
set ylabel 'observed loss (val_loss)'
set grid
set key top left
plot 'docs/scaling/fit/plot_data/observed_vs_fitted_decoder.dat' using 1:2 with points pt 7 lc 1 title 'decoder', \
     x with lines lc rgb 'gray' dt 2 title 'observed = fitted'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/scaling/fit/observed_vs_fitted.svg'
replot
unset output
