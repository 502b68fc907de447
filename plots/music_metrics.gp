# music_metrics.gp: the music metrics of each set (the models' generated
# tunes and the real validation tunes) as grouped bars with their 95%
# intervals (Wilson for shares of tunes, a bootstrap over tunes otherwise).
# The caller sets out and fmt (terminal.gp) and
#   music = the .dat file written by `tunebench music-table`: a header line
#           ("set", then each metric's title, lo, hi), then one row per set:
#           its name, then value lo hi (percent) of each metric
load "plots/terminal.gp"
# The metrics: the header's words after "set", three per metric.
metrics = int((words(system("head -n 1 '".music."'")) - 1) / 3)
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set bars front
set boxwidth 0.9
set yrange [0:105]
set ylabel "% of tunes, bars or notes (95% intervals)"
set key outside bottom center horizontal box opaque
set xtics nomirror
set title "Music metrics: generated tunes against the real validation tunes"
plot for [i=0:metrics-1] music using 2+3*i:3+3*i:4+3*i:xtic(1) title columnheader(2+3*i)
