# music_metrics.gp: the music metrics of each set (the four models' generated
# tunes and the real validation tunes) as grouped bars.
# The caller sets out and fmt (terminal.gp) and
#   music = the .dat file written by `tunebench music-table` (one row per set)
load "plots/terminal.gp"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:105]
set ylabel "% of tunes, bars or notes"
set key outside bottom center horizontal box opaque
set xtics nomirror
set title "Music metrics: generated tunes against the real validation tunes"
plot music using 2:xtic(1) title "valid (own checker)", \
     '' using 3 title "valid (abc2midi)", \
     '' using 4 title "bars in meter", \
     '' using 5 title "notes in key", \
     '' using 6 title "bars seen in training", \
     '' using 7 title "4-bar spans seen in training"
