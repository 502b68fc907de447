# loss.gp: training (smoothed) and validation loss against step.
load "plots/common.gp"
set title "Training and validation loss"
set xlabel "optimizer step"
set ylabel "loss (nats per token)"
plot for [i=1:n_runs] data."/train_".value("exp".i).".dat" using 1:3 with lines lw 1.5 \
         lc rgb value("colour".i) title value("label".i)." train (smoothed)", \
     for [i=1:n_runs] data."/val_".value("exp".i).".dat" using 1:2 with linespoints lw 2 dt 2 pt 7 ps 0.8 \
         lc rgb value("colour".i) title value("label".i)." validation"
