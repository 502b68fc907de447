# common.gp: loaded by every plot script. The caller sets
#   data = folder written by build/plot_data (runs.gp and *.dat)
#   out  = output file without extension
#   fmt  = "png" (pngcairo) or "svg"
load "plots/terminal.gp"
load data."/runs.gp"
set key outside right top box opaque width 2
# Each run's colour is colour<i> in runs.gp (plots/records.c: one hue per
# architecture, darker for the larger model, the same in every figure).
