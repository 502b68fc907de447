# val_bpb_time.gp: validation bits per byte against wall-clock time.
load "plots/common.gp"
set title "Validation loss against wall-clock time"
set xlabel "wall-clock time since the run started (minutes)"
set ylabel "validation loss (bits per byte)"
plot for [i=1:n_runs] data."/val_".value("exp".i).".dat" using 4:3 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb value("colour".i) title value("label".i)
