# throughput_memory.gp: training throughput and peak memory per model.
load "plots/common.gp"
if (have_throughput == 0) {
    what = "a step time and memory"
    load "plots/empty.gp"
} else {
    set multiplot layout 1,2 title "Training throughput and peak memory".(max_seeds > 1 ? " (means over seeds)" : "")
    set style fill solid 0.8
    set boxwidth 0.6
    set yrange [0:*]
    set offsets 0, 0, graph 0.1, 0   # headroom for the value labels
    set xrange [-0.6:n_runs-0.4]
    set xtics rotate by -35 left font ",10"   # six labels in half the width
    set bmargin 5
    unset key
    set title "training throughput"
    set ylabel "tokens per second (median step)"
    plot data."/throughput.dat" using 1:3:xtic(2) with boxes lc rgb "#3182bd", \
         "" using 1:3:(sprintf("%.0f", $3)) with labels offset 0,0.8
    set title "peak memory"
    set ylabel "peak resident set size (MiB)"
    plot data."/throughput.dat" using 1:4:xtic(2) with boxes lc rgb "#e6550d", \
         "" using 1:4:(sprintf("%.0f", $4)) with labels offset 0,0.8   # rounded once (plot_data keeps 4 decimals)
    unset multiplot
}
