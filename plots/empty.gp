# empty.gp: the figure of a measurement that no run has yet (for example
# inference timings, which a run records when it completes). Set `what` first.
unset key
set xrange [0:1]
set yrange [0:1]
unset xtics
unset ytics
set label 1 "no run in these records has ".what." yet" at graph 0.5, 0.5 center font ",14"
plot NaN notitle
