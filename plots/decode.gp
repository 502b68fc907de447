# decode.gp: per-token decode latency at batch 1 against position (KV cache
# for GPT-2, the recurrent step for Mamba and the LSTM).
load "plots/common.gp"
if (have_decode == 0) {
    what = "inference timings"
    load "plots/empty.gp"
} else {
    set title "Decode latency per token at batch 1"
    set xlabel "position in the sequence (tokens)"
    set ylabel "milliseconds per token (median over repeats)"
    set yrange [0:*]
    plot for [i=1:n_runs] data."/decode_".value("exp".i).".dat" using 1:2 with linespoints lw 2 pt 7 ps 0.7 \
             lc rgb value("colour".i) title value("label".i)
}
