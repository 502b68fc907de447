# music_figure.gp: the music metrics of each set as grouped bars.
# usage: gnuplot -e "data='paper/tables/music_metrics.dat'; out='plots/music_metrics.pdf'" scripts/music_figure.gp
# The data file is written by `tunebench music-table` (one row per set).
if (!exists("data")) data = 'paper/tables/music_metrics.dat'
if (!exists("out")) out = 'plots/music_metrics.pdf'
if (out[strlen(out)-3:] eq '.png') { set terminal pngcairo size 1000,500 font ",10" } else { set terminal pdfcairo size 8in,4in font ",9" }
set output out
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:105]
set ylabel "% of tunes, bars or notes"
set key outside right top
set grid ytics
set xtics nomirror
set title "Music metrics: generated tunes vs real validation tunes"
plot data using 2:xtic(1) title "valid (checker)", \
     '' using 3 title "valid (abc2midi)", \
     '' using 4 title "bars in meter", \
     '' using 5 title "notes in key", \
     '' using 6 title "bars seen in training", \
     '' using 7 title "4-bar spans seen in training"
