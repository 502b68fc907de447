# loss.gp: training (smoothed) and validation loss against step, on a log
# step axis so that the short 60M runs and the long 6M runs are both legible
# (step 0, the validation before training, is not on a log axis).
load "plots/common.gp"
set title "Training and validation loss".band_title
set xlabel "optimizer step (log scale)"
set ylabel "loss (nats per token)"
set logscale x
plot for [i=1:n_runs] data."/train_".value("exp".i).".dat" using 1:4:5 with filledcurves \
         fs transparent solid 0.15 noborder lc rgb value("colour".i) notitle, \
     for [i=1:n_runs] data."/train_".value("exp".i).".dat" using 1:3 with lines lw 1.5 \
         lc rgb value("colour".i) title value("label".i)." train (smoothed)", \
     for [i=1:n_runs] data."/val_".value("exp".i).".dat" using ($1 > 0 ? $1 : NaN):3 with linespoints lw 2 dt 2 pt 7 ps 0.8 \
         lc rgb value("colour".i) title value("label".i)." validation"
