# common.gp: loaded by every plot script. The caller sets
#   data = folder written by build/plot_data (runs.gp and *.dat)
#   out  = output file without extension
#   fmt  = "png" (pngcairo) or "svg"
load "plots/terminal.gp"
load data."/runs.gp"
set key outside right top box opaque width 2
# One colour per experiment, the same in every figure: GPT-2 warm, Mamba cool.
colour(e) = (e eq "gpt2-6m") ? "#e6550d" : (e eq "gpt2-60m") ? "#a63603" : \
            (e eq "mamba-6m") ? "#3182bd" : (e eq "mamba-60m") ? "#08519c" : "#636363"
