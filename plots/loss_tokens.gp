# loss_tokens.gp: validation bits per byte against training tokens seen, the
# axis on which runs of different batch sizes or step counts meet (log scale;
# the validation before training is not on it).
load "plots/common.gp"
set title "Validation loss against training tokens".band_title
set xlabel "training tokens seen (log scale)"
set ylabel "validation loss (bits per byte)"
set logscale x
plot for [i=1:n_runs] data."/val_".value("exp".i).".dat" using ($2 > 0 ? $2 : NaN):5:6 with filledcurves \
         fs transparent solid 0.2 noborder lc rgb value("colour".i) notitle, \
     for [i=1:n_runs] data."/val_".value("exp".i).".dat" using ($2 > 0 ? $2 : NaN):4 with linespoints lw 2 pt 7 ps 0.8 \
         lc rgb value("colour".i) title value("label".i)
