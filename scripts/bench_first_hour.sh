#!/usr/bin/env bash
# bench_first_hour.sh BUILD OUT.json: how well a new user's first runs are
# served (make bench-first-hour); run it on a quiet machine.
#   1. The ETA: each 6M experiment at ETA_STEPS (50 and 500) steps, its
#      progress read from a terminal (script(1) gives the run a pty, as a
#      user's shell would). The ETA is the one shown at the first step at or
#      past a tenth of the run; predicted = elapsed + ETA there, against the
#      record's final timing.wall_seconds (the same clock, which starts after
#      the corpus is loaded; the process's own wall time is given too).
#   2. The thread policy: THREAD_EXPERIMENTS for THREAD_STEPS steps with
#      light validation under the CLI's default (GOMP_SPINCOUNT=10000),
#      OMP_WAIT_POLICY=ACTIVE and OMP_WAIT_POLICY=PASSIVE, first on the machine
#      as it is, then with one busy process per core beside it: the records'
#      median step time, THREAD_REPEATS times in turn (default, ACTIVE,
#      PASSIVE, default, ...), each policy's median of them.
# Writes OUT (temporary file, then rename) with the load averages before and after.
set -euo pipefail
build=${1:?usage: bench_first_hour.sh BUILD OUT.json}
out=${2:?usage: bench_first_hour.sh BUILD OUT.json}
ETA_EXPERIMENTS=${ETA_EXPERIMENTS:-gpt2-6m mamba-6m lstm-6m}
ETA_STEPS=${ETA_STEPS-50 500}  # empty: no ETA runs (the thread policy only)
THREAD_EXPERIMENTS=${THREAD_EXPERIMENTS:-gpt2-6m mamba-6m}
THREAD_STEPS=${THREAD_STEPS:-40}
THREAD_REPEATS=${THREAD_REPEATS:-3}
tb=$(cd "$(dirname "$build/tunebench")" && pwd)/tunebench
tmp=$(mktemp -d /tmp/tb_bench_first_hour_XXXXXX)
busy_pids=()
cleanup() { for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cores=$(nproc)
load_start=$(cut -d' ' -f1 /proc/loadavg)

# num KEY FILE: the first number at "KEY": in a JSON file (the tools print one key a line).
num() { grep -oE "\"$1\":[[:space:]]*[-0-9.e+]+" "$2" | head -n 1 | grep -oE '[-0-9.e+]+$'; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# eta_at LOG STEPS: "elapsed_s eta_s step" at the first progress line at or
# past a tenth of the run (the terminal's line: "step K/N ... elapsed E  ETA T").
eta_at() {
  tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | awk -v n="$2" '
    function dur(s,   v) {  # progress_format_duration: 12.3s | 4m 05s | 2h 03m | 1.5 days
      if (s ~ /days$/) return s * 86400
      v = 0
      if (match(s, /[0-9.]+h/)) v += substr(s, RSTART, RLENGTH - 1) * 3600
      if (match(s, /[0-9.]+m/)) v += substr(s, RSTART, RLENGTH - 1) * 60
      if (match(s, /[0-9.]+s/)) v += substr(s, RSTART, RLENGTH - 1)
      return v
    }
    /^step [0-9]+\/[0-9]+ .* ETA / {
      split($2, kn, "/"); k = kn[1] + 0
      if (k * 10 < n) next
      e = $0; sub(/.*elapsed /, "", e); sub(/  ETA.*/, "", e)
      t = $0; sub(/.*ETA /, "", t); sub(/[[:space:]]+$/, "", t)
      if (t == "?") next
      printf "%.3f %.3f %d\n", dur(e), dur(t), k; exit
    }'
}

# ---------------------------------------------------------------- 1. the ETA
eta_rows=""
for steps in $ETA_STEPS; do
  for e in $ETA_EXPERIMENTS; do
    id=eta-$e-$steps
    echo "bench-first-hour: $e, $steps steps, on a terminal"
    t0=$(now)
    script -qefc "'$tb' train --config experiments/$e.json --steps $steps --results '$tmp/eta' --run-id $id" "$tmp/$id.log" >/dev/null
    t1=$(now)
    rec=$tmp/eta/$e/$id.json
    read -r el eta at < <(eta_at "$tmp/$id.log" "$steps")
    wall=$(num wall_seconds "$rec")
    row=$(awk -v e="$e" -v s="$steps" -v at="$at" -v el="$el" -v eta="$eta" -v w="$wall" -v p="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
      'BEGIN { pred = el + eta; printf "{\"experiment\": \"%s\", \"steps\": %d, \"eta_at_step\": %d, \"elapsed_s\": %.2f, \"eta_s\": %.2f, \"predicted_wall_s\": %.2f, \"actual_wall_s\": %.2f, \"process_wall_s\": %.2f, \"error\": %.4f}", e, s, at, el, eta, pred, w, p, pred / w - 1 }')
    echo "  $row"
    eta_rows="$eta_rows${eta_rows:+,
    }$row"
  done
done

# ---------------------------------------------------------------- 2. the thread policy
light="--set eval.batches=1 --set inference.repeats=0 --set samples.count=0"
policy_run() {  # policy_run EXPERIMENT LABEL POLICY REPEAT: the median step in ms
  local e=$1 label=$2 policy=$3 id=threads-$1-$2-$3-$4
  if [ "$policy" = default ]; then
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$tb" train --config "experiments/$e.json" --steps "$THREAD_STEPS" $light \
      --results "$tmp/threads" --run-id "$id" >"$tmp/$id.log" 2>&1
  else
    env -u GOMP_SPINCOUNT OMP_WAIT_POLICY="$policy" "$tb" train --config "experiments/$e.json" --steps "$THREAD_STEPS" $light \
      --results "$tmp/threads" --run-id "$id" >"$tmp/$id.log" 2>&1
  fi
  num median_step_ms "$tmp/threads/$e/$id.json"
}
thread_rows=""
for label in quiet loaded; do
  if [ "$label" = loaded ]; then
    for _ in $(seq "$cores"); do (while :; do :; done) & busy_pids+=($!); done
  fi
  for e in $THREAD_EXPERIMENTS; do
    echo "bench-first-hour: $e, $THREAD_STEPS steps, $label: default, ACTIVE, PASSIVE"
    ds=""; as=""; ps=""
    for r in $(seq "$THREAD_REPEATS"); do
      ds="$ds $(policy_run "$e" "$label" default "$r")"; as="$as $(policy_run "$e" "$label" ACTIVE "$r")"
      ps="$ps $(policy_run "$e" "$label" PASSIVE "$r")"
    done
    d=$(median $ds); a=$(median $as); p=$(median $ps)
    row=$(awk -v e="$e" -v l="$label" -v d="$d" -v a="$a" -v p="$p" 'BEGIN {
      best = d; if (a < best) best = a; if (p < best) best = p
      printf "{\"experiment\": \"%s\", \"machine\": \"%s\", \"median_step_ms\": {\"default\": %.1f, \"ACTIVE\": %.1f, \"PASSIVE\": %.1f}, \"default_over_best\": %.3f, \"default_over_passive\": %.3f}", e, l, d, a, p, d / best, d / p }')
    echo "  $row"
    thread_rows="$thread_rows${thread_rows:+,
    }$row"
  done
done
for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done
busy_pids=()
load_end=$(cut -d' ' -f1 /proc/loadavg)

cat >"$out.tmp" <<EOF
{
  "benchmark": "first_hour",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "git_commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "machine": {"cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')", "cpu_cores": $cores,
              "load_average_start": $load_start, "load_average_end": $load_end},
  "eta": {
    "note": "the ETA shown on a terminal at the first step at or past a tenth of the run; predicted = elapsed + ETA; actual = the record's timing.wall_seconds (same clock; process_wall_s adds loading the corpus and building the model); error = predicted / actual - 1",
    "runs": [
    $eta_rows
    ]
  },
  "threads": {
    "repeats": $THREAD_REPEATS,
    "note": "the median over repeats of the median step of $THREAD_STEPS steps (batch 8 x 256, $cores threads, light validation); default = OMP_WAIT_POLICY unset, the CLI's GOMP_SPINCOUNT=10000; loaded = one busy process per core beside the run",
    "runs": [
    $thread_rows
    ]
  }
}
EOF
mv "$out.tmp" "$out"
echo "bench-first-hour: $out (load $load_start -> $load_end)"
