# val_bpb_time.gp: validation bits per byte against training time (time_label
# in runs.gp says whether the records had training seconds, or wall-clock
# time with validation included had to stand in).
load "plots/common.gp"
set title "Validation loss against time".band_title
set xlabel time_label
set ylabel "validation loss (bits per byte)"
plot for [i=1:n_runs] data."/val_".value("exp".i).".dat" using 7:5:6 with filledcurves \
         fs transparent solid 0.2 noborder lc rgb value("colour".i) notitle, \
     for [i=1:n_runs] data."/val_".value("exp".i).".dat" using 7:4 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb value("colour".i) title value("label".i)
