# common.gp: loaded by every plot script. The caller sets
#   data = folder written by build/plot_data (runs.gp and *.dat)
#   out  = output file without extension
#   fmt  = "png" (pngcairo) or "svg"
load "plots/terminal.gp"
load data."/runs.gp"
set key outside right top box opaque width 2
# Each run's colour is colour<i> in runs.gp (plots/records.c: one hue per
# architecture, darker for the larger model, the same in every figure).
# Over several seeds a curve is their mean and its band their min-max range.
band_title = (max_seeds > 1) ? " (mean; band: min-max over seeds)" : ""
# Records from several hosts or commits (ALLOW_MIXED=1): every figure says so.
if (provenance ne "") {
    set bmargin 6
    set label 99 provenance at screen 0.01, screen 0.02 left font ",9" textcolor rgb "#b00000"
}
