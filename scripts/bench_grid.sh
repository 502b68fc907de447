#!/usr/bin/env bash
# bench_grid.sh BUILD OUT.json: what this machine gains from running a grid's
# runs side by side and from splitting one run over MPI ranks (make bench-grid).
#   1. a small grid (GRID_EXPERIMENTS x 2 seeds, GRID_STEPS steps of batch 2,
#      light validation, no inference or samples) with 1 worker of all
#      cores, then 2 workers of half the cores each: tokens trained per wall
#      second over the grid, from each session's <results>/grid.json;
#   2. gpt2-6m at batch 8 x 256 for DP_STEPS steps as one process with 2
#      threads, then as 2 MPI ranks of 1 thread (mpirun -np 2 --ranks 2):
#      the records' median step time.
# Writes OUT (temporary file, then rename) with the machine's load average
# before and after: on a shared machine the figures move with the load.
set -euo pipefail
build=${1:?usage: bench_grid.sh BUILD OUT.json}
out=${2:?usage: bench_grid.sh BUILD OUT.json}
GRID_EXPERIMENTS=${GRID_EXPERIMENTS:-gpt2-6m lstm-6m}
GRID_STEPS=${GRID_STEPS:-6}
DP_STEPS=${DP_STEPS:-6}
tb=$build/tunebench
tmp=$(mktemp -d /tmp/tb_bench_grid_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cores=$(nproc)
load_start=$(cut -d' ' -f1 /proc/loadavg)

# num KEY FILE: the first number at "KEY": in a JSON file (the tools print one key a line).
num() { grep -oE "\"$1\":[[:space:]]*[-0-9.e+]+" "$2" | head -n 1 | grep -oE '[-0-9.e+]+$'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

# ---------------------------------------------------------------- 1. the grid
light='"batch_size": 2, "eval.batches": 1, "inference.repeats": 0, "samples.count": 0'
experiments=$(printf '"%s", ' $GRID_EXPERIMENTS); experiments="[${experiments%, }]"
runs=$(( $(printf '%s\n' $GRID_EXPERIMENTS | wc -l) * 2 ))
for w in 1 2; do
  printf '{"name": "bench", "results": "%s/w%s", "experiments": %s, "seeds": [1, 2], "steps": %s, "set": {%s}}\n' \
    "$tmp" "$w" "$experiments" "$GRID_STEPS" "$light" >"$tmp/w$w.json"
  echo "bench-grid: the grid with $w worker(s)"
  "$tb" grid run "$tmp/w$w.json" --workers "$w" --progress 0
done
g1=$tmp/w1/grid.json; g2=$tmp/w2/grid.json

# ---------------------------------------------------------------- 2. data-parallel
dp="--config experiments/gpt2-6m.json --steps $DP_STEPS --batch 8 --set eval.batches=1 --set inference.repeats=0 --set samples.count=0 --results $tmp/dp"
echo "bench-grid: gpt2-6m, one process of 2 threads"
"$tb" train $dp --threads 2 --run-id threads2 >"$tmp/threads2.log"
echo "bench-grid: gpt2-6m, 2 MPI ranks of 1 thread"
mpirun --bind-to none -np 2 "$build/tunebench-mpi" train $dp --threads 1 --ranks 2 --run-id ranks2 >"$tmp/ranks2.log"
t2=$tmp/dp/gpt2-6m/threads2.json; r2=$tmp/dp/gpt2-6m/ranks2.json
load_end=$(cut -d' ' -f1 /proc/loadavg)

tps1=$(num tokens_per_second "$g1"); tps2=$(num tokens_per_second "$g2")
ms_t=$(num median_step_ms "$t2"); ms_r=$(num median_step_ms "$r2")
cat >"$out.tmp" <<EOF
{
  "benchmark": "grid",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "git_commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "machine": {"cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')", "cpu_cores": $cores,
              "load_average_start": $load_start, "load_average_end": $load_end},
  "grid": {
    "runs": $runs, "experiments": $experiments, "seeds": [1, 2], "steps": $GRID_STEPS, "batch_size": 2, "seq_len": 256,
    "workers_1": {"threads_per_worker": $(num threads_per_worker "$g1"), "wall_seconds": $(num wall_seconds "$g1"), "tokens_per_second": $tps1},
    "workers_2": {"threads_per_worker": $(num threads_per_worker "$g2"), "wall_seconds": $(num wall_seconds "$g2"), "tokens_per_second": $tps2},
    "speedup_2_workers": $(ratio "$tps2" "$tps1"),
    "note": "wall time of whole runs (startup, validation and checkpoints included), tokens trained / wall seconds"
  },
  "data_parallel": {
    "experiment": "gpt2-6m", "batch_size": 8, "seq_len": 256, "steps": $DP_STEPS,
    "one_process_2_threads": {"median_step_ms": $ms_t, "median_tokens_per_s": $(num median_tokens_per_s "$t2")},
    "two_ranks_1_thread": {"median_step_ms": $ms_r, "median_tokens_per_s": $(num median_tokens_per_s "$r2")},
    "speedup_2_ranks": $(ratio "$ms_t" "$ms_r"),
    "note": "each rank computes 4 of the 8 rows; rank 0 gathers the gradients and sends the parameters each step through shared memory"
  }
}
EOF
mv "$out.tmp" "$out"
echo "bench-grid: $out: grid $tps1 -> $tps2 tokens/s with 2 workers; gpt2-6m step $ms_t ms (2 threads) vs $ms_r ms (2 ranks); load $load_start -> $load_end"
