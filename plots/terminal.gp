# terminal.gp: the output format every figure shares. The caller sets
#   out = output file without extension
#   fmt = "png" (pngcairo) or "svg"
if (fmt eq "svg") {
    set terminal svg size 960,600 dynamic enhanced font "DejaVu Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 960,600 enhanced font "DejaVu Sans,11"
}
set output out.".".fmt
set grid lc rgb "#dddddd"
