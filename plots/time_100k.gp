# time_100k.gp: time for the protocol's 100,000 training steps, per model.
# Solid bars were measured; hatched bars are projected from the median step time.
load "plots/common.gp"
if (have_timing == 0) {
    what = "a step time"
    load "plots/empty.gp"
} else {
    set title "Training time for 100,000 steps (hatched: projected from the median step time)"
    set ylabel "hours"
    set style data histograms
    set boxwidth 0.6
    set yrange [0:*]
    set offsets 0, 0, graph 0.1, 0   # headroom for the value labels
    set xrange [-0.6:n_runs-0.4]
    set xtics rotate by -35 left
    set bmargin 5
    unset key
    set key inside left top
    plot data."/timing.dat" using 1:3:xtic(2) with boxes fs solid 0.8 lc rgb "#31a354" title "measured", \
         data."/timing.dat" using 1:4:xtic(2) with boxes fs pattern 4 border lc rgb "#756bb1" title "projected", \
         data."/timing.dat" using 1:($4 == $4 ? $4 : $3):(sprintf("%.1f h", $4 == $4 ? $4 : $3)) with labels offset 0,0.8 notitle
}
