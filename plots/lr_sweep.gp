# lr_sweep.gp: the learning-rate sweeps: final validation bits per byte
# against the learning rate (log scale), one curve per experiment swept; the
# chosen rate is circled, a diverged rate has no point. The caller sets out,
# fmt (terminal.gp) and sweeps = the folder with sweeps.gp and sweep_*.dat
# (build/plot_data --sweeps).
load "plots/terminal.gp"
load sweeps."/sweeps.gp"
if (n_sweeps == 0) {
    what = "a learning-rate sweep (make sweep-NAME STEPS=N)"
    load "plots/empty.gp"
} else {
    set key outside right top box opaque width 2
    set title "Learning-rate sweep: final validation loss of short runs (circled: chosen)"
    set xlabel "peak learning rate (log scale)"
    set ylabel "final validation loss (bits per byte)"
    set logscale x
    set format x "%.0e"
    plot for [i=1:n_sweeps] sweeps."/sweep_".value("sweep_exp".i).".dat" using 1:2 with linespoints lw 2 pt 7 ps 0.9 \
             lc rgb value("sweep_colour".i) title value("sweep_label".i), \
         for [i=1:n_sweeps] sweeps."/sweep_".value("sweep_exp".i).".dat" using 1:($4 == 1 ? $2 : NaN) with points \
             pt 6 ps 3 lw 2 lc rgb value("sweep_colour".i) notitle
}
