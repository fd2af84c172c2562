set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'
set output 'docs/scaling/fit/isoflop.png'
set logscale x
set xlabel 'parameters N (nonembed)'
set ylabel 'loss (val_loss)'
set grid
set key outside right
plot 'docs/scaling/fit/plot_data/isoflop_points_decoder_0.dat' using 1:2 with points pt 7 lc 1 title 'decoder C=1e+12', \
     'docs/scaling/fit/plot_data/isoflop_curve_decoder_0.dat' using 1:2 with lines dt 1 lc 1 notitle, \
     'docs/scaling/fit/plot_data/isoflop_points_decoder_1.dat' using 1:2 with points pt 7 lc 2 title 'decoder C=2e+12', \
     'docs/scaling/fit/plot_data/isoflop_curve_decoder_1.dat' using 1:2 with lines dt 1 lc 2 notitle, \
     'docs/scaling/fit/plot_data/isoflop_points_decoder_2.dat' using 1:2 with points pt 7 lc 3 title 'decoder C=4e+12', \
     'docs/scaling/fit/plot_data/isoflop_curve_decoder_2.dat' using 1:2 with lines dt 1 lc 3 notitle, \
     'docs/scaling/fit/plot_data/isoflop_points_decoder_3.dat' using 1:2 with points pt 7 lc 4 title 'decoder C=8e+12', \
     'docs/scaling/fit/plot_data/isoflop_curve_decoder_3.dat' using 1:2 with lines dt 1 lc 4 notitle, \
     'docs/scaling/fit/plot_data/isoflop_minima_decoder.dat' using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb 'black' title 'decoder minima N*'

set terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'
set output 'docs/scaling/fit/isoflop.svg'
replot
unset output
