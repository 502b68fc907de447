#!/usr/bin/env bash
# test_grid.sh: grids of runs on this machine. A tiny grid (the tiny GPT-2 and
# Mamba configs, two seeds, two learning rates, 6 steps, on the default
# corpus) through `make grid WORKERS=2`: every run completes with a valid
# record; a second `make grid` starts nothing; runs stopped by a signal (the
# runner's fault hook) resume and end with the losses of runs never stopped;
# the ids stay put when the grid grows; a grid changed under finished runs is
# refused; bad grid files get one line naming the file and the key; make
# plots and tables read the grid's folder; sbatch scripts ask for what the
# grid says (tests/test_slurm.sh submits them to a real Slurm).
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
tb=$build/tunebench
tmp=$(mktemp -d /tmp/tb_test_grid_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_grid: $what"; tail -n 5 "$tmp/checks.log"; fi
}
# refused DESCRIPTION EXPECTED-TEXT GRID-JSON: `grid list` exits 2 with one error line holding the text.
refused() {
  printf '%s\n' "$3" >"$tmp/bad.json"
  "$tb" grid list "$tmp/bad.json" >"$tmp/bad.out" 2>"$tmp/bad.err"; local rc=$?
  check "$1: exit 2 (got $rc)" [ "$rc" = 2 ]
  local ok=0
  [ "$(wc -l <"$tmp/bad.err")" = 1 ] && grep -qF -- "$2" "$tmp/bad.err" && grep -qF "$tmp/bad.json" "$tmp/bad.err" && ok=1
  check "$1: one line naming \"$2\" (got: $(head -c 300 "$tmp/bad.err"))" [ "$ok" = 1 ]
}
ids() { "$tb" grid list "$1" | awk 'NR > 1 { print $2 }' | sort; }

# Tiny experiments: the 6M configs with their tiny models and 16-token windows.
for a in gpt2 mamba; do
  sed -e "s/\"experiment\": \"$a-6m\"/\"experiment\": \"tiny-$a\"/" -e "s/\"model\": \"$a-6m\"/\"model\": \"tiny-$a\"/" \
      -e 's/"seq_len": 256/"seq_len": 16/' "experiments/$a-6m.json" >"$tmp/tiny-$a.json"
done
light='"set": {"batch_size": 2, "eval.batches": 1, "inference.repeats": 1, "samples.count": 1, "samples.max_tokens": 8}'
grid() {  # grid FILE RESULTS STEPS SEEDS
  printf '{"name": "t", "results": "%s", "experiments": ["%s/tiny-gpt2.json", "%s/tiny-mamba.json"], "seeds": %s,
  "lrs": [0.001, 0.003], "precision": ["fp32"], "steps": %s, %s,
  "slurm": {"resources": {"tiny-mamba": {"cpus": 3, "mem": "1G", "time": "00:10:00"}}}}\n' \
    "$2" "$tmp" "$tmp" "$4" "$3" "$light" >"$1"
}

# ---------------------------------------------------------------- expansion
check "grids/study.json expands to 54 runs (6 experiments x 3 seeds x 3 rates)" \
  bash -c "[ \$('$tb' grid list grids/study.json | tail -n +2 | wc -l) = 54 ]"
check "grids/study.json: every run id is distinct" bash -c "[ -z \"\$('$tb' grid list grids/study.json | awk 'NR > 1 { print \$2 }' | sort | uniq -d)\" ]"
check "every grid in grids/ expands" bash -c "for g in grids/*.json; do '$tb' grid list \$g >/dev/null || exit 1; done"
grid "$tmp/g.json" "$tmp/a" 6 "[1, 2]"
grid "$tmp/g3.json" "$tmp/a" 6 "[3, 2, 1]"
ids2=$(ids "$tmp/g.json"); ids3=$(ids "$tmp/g3.json")
check "a run id is its experiment, rate and seed" grep -qx 'tiny-gpt2-lr0.003-s2' <<<"$ids2"
check "8 runs; adding a seed keeps the other runs' ids" \
  bash -c "[ \$(wc -l <<<'$ids2') = 8 ] && [ '$(grep -v -- '-s3$' <<<"$ids3")' = '$ids2' ]"
sed 's/"precision": \["fp32"\]/"precision": ["bf16"]/' "$tmp/g.json" >"$tmp/gbf16.json"
check "a bf16 grid's run ids name the precision (tiny-gpt2-bf16-lr0.003-s2)" grep -qx 'tiny-gpt2-bf16-lr0.003-s2' \
  <<<"$(ids "$tmp/gbf16.json")"

refused "an unknown key" "unknown key 'seed'" '{"experiments": ["gpt2-6m"], "seed": [1]}'
refused "no experiments" "key 'experiments'" '{"seeds": [1]}'
refused "an unknown experiment" "experiments/nope-6m.json" '{"experiments": ["nope-6m"]}'
refused "a precision that does not exist" "'fp16' is not one of fp32|tf32|bf16" '{"experiments": ["gpt2-6m"], "precision": ["fp16"]}'
refused "two precisions" "a list of one precision" '{"experiments": ["gpt2-6m"], "precision": ["fp32", "bf16"]}'
refused "a seed twice" "appears twice" '{"experiments": ["gpt2-6m"], "seeds": [1, 1]}'
refused "a config value out of range" "optimizer.weight_decay" '{"experiments": ["gpt2-6m"], "set": {"optimizer.weight_decay": 99}}'
refused "a backend that does not exist" "'gpu' is not one of cpu|cuda" '{"experiments": ["gpt2-6m"], "backend": "gpu"}'
refused "a key the grid sets itself" "set.seed" '{"experiments": ["gpt2-6m"], "set": {"seed": 3}}'
refused "resources for no experiment" "slurm.resources.gpt2-60m" '{"experiments": ["gpt2-6m"], "slurm": {"resources": {"gpt2-60m": {"cpus": 2}}}}'
refused "a Slurm value with a space" "slurm.resources.default.mem" '{"experiments": ["gpt2-6m"], "slurm": {"resources": {"default": {"mem": "1 G"}}}}'
refused "invalid JSON" "invalid JSON near line 2" $'{"experiments":\n ["gpt2-6m",]}'
make --no-print-directory grid >"$tmp/nogrid.out" 2>&1; rc=$?
check "make grid without GRID: fails, listing the grids" bash -c "[ $rc != 0 ] && grep -q 'give GRID=grids/NAME.json; the grids are: .*grids/study.json' '$tmp/nogrid.out'"

# ---------------------------------------------------------------- make grid
make --no-print-directory grid GRID="$tmp/g.json" WORKERS=2 >"$tmp/run1.log" 2>&1; rc=$?
check "make grid WORKERS=2 exits 0 (log $tmp/run1.log)" [ "$rc" = 0 ]
check "make grid: 2 workers of 1 thread each on 2 cores" grep -q "8 to run with 2 workers of $(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 )) thread" "$tmp/run1.log"
records=$(ls "$tmp"/a/tiny-*/*.json 2>/dev/null)
check "8 records, in <results>/<experiment>/<run-id>.json" [ "$(printf '%s\n' $records | grep -c json)" = 8 ]
check "every record is valid and completed" "$tb" check-record --completed $records
check "each run trained with its grid's seed and rate" \
  bash -c "grep -Eq '\"lr\":[[:space:]]*0.003' '$tmp/a/tiny-mamba/tiny-mamba-lr0.003-s2.json' && grep -Eq '\"seed\":[[:space:]]*2,' '$tmp/a/tiny-mamba/tiny-mamba-lr0.003-s2.json'"
check "a log per run" [ -s "$tmp/a/logs/tiny-mamba-lr0.001-s1.log" ]
check "grid.json holds the session's throughput" \
  bash -c "grep -Eq '\"workers\":[[:space:]]*2' '$tmp/a/grid.json' && grep -Eq '\"steps_trained\":[[:space:]]*48' '$tmp/a/grid.json'"
make --no-print-directory grid-status GRID="$tmp/g.json" >"$tmp/status.out" 2>&1
check "make grid-status: 8 completed" grep -q '8 runs: 8 completed' "$tmp/status.out"
sum1=$(cat $records | md5sum)
make --no-print-directory grid GRID="$tmp/g.json" WORKERS=2 >"$tmp/run2.log" 2>&1; rc=$?
check "make grid again: exits 0 and starts nothing" bash -c "[ $rc = 0 ] && grep -q '8 finished already, 0 to run' '$tmp/run2.log'"
check "make grid again: the records are untouched" [ "$(cat $records | md5sum)" = "$sum1" ]

# ---------------------------------------------------------------- resume
grid "$tmp/gb.json" "$tmp/b" 6 "[1, 2]"
TUNEBENCH_FAULT_STOP_STEP=3 "$tb" grid run "$tmp/gb.json" --workers 2 >"$tmp/stop.log" 2>&1; rc=$?
check "runs stopped after step 3: the pool fails (exit $rc)" [ "$rc" != 0 ]
"$tb" grid status "$tmp/gb.json" >"$tmp/stopped.out"
check "grid status: 8 resumable after the stop" grep -q '8 resumable' "$tmp/stopped.out"
"$tb" grid run "$tmp/gb.json" --workers 2 >"$tmp/resume.log" 2>&1; rc=$?
check "grid run resumes them all (exit $rc)" bash -c "[ $rc = 0 ] && [ \$(grep -c 'resuming tiny' '$tmp'/b/logs/*.log | awk -F: '{ s += \$2 } END { print s }') = 8 ]"
check "the resumed records are valid and completed" "$tb" check-record --completed "$tmp"/b/tiny-*/*.json
curve() { sed -n '/"curve"/,/]/p' "$1" | grep -E '"train_loss"'; }
for r in tiny-gpt2/tiny-gpt2-lr0.001-s1 tiny-mamba/tiny-mamba-lr0.003-s2; do
  ca=$(curve "$tmp/a/$r.json"); cb=$(curve "$tmp/b/$r.json")
  check "$r: the resumed run's losses are those of the run never stopped" bash -c "[ -n '$ca' ] && [ '$ca' = '$cb' ]"
done

# A real SIGTERM to the pool (as Ctrl-C or a scheduler sends): the running
# runs checkpoint, the waiting one is not started, and the next run resumes.
printf '{"name": "sig", "results": "%s/s", "experiments": ["%s/tiny-gpt2.json"], "seeds": [1, 2, 3], "steps": 100000, %s}\n' \
  "$tmp" "$tmp" "$light" >"$tmp/gs.json"
"$tb" grid run "$tmp/gs.json" --workers 2 >"$tmp/sig.log" 2>&1 &
pool=$!
for _ in $(seq 200); do [ "$(ls "$tmp"/s/tiny-gpt2/*.json 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.1; done
sleep 1
check "grid status sees the 2 runs running (their locks, from /proc/locks)" \
  grep -q '3 runs: 0 completed, 2 running, 0 resumable, 1 pending' <("$tb" grid status "$tmp/gs.json")
kill -TERM "$pool"; wait "$pool"; rc=$?
check "SIGTERM to the pool: it exits 143 (got $rc)" [ "$rc" = 143 ]
check "... the two running runs stopped at a checkpoint, the third never started" \
  grep -q '3 runs: 0 completed, 0 running, 2 resumable, 1 pending' <("$tb" grid status "$tmp/gs.json")
check "... and the pool says they resume" grep -q '0 of 2 runs done in this session (2 stopped, 0 failed)' "$tmp/sig.log"
check "... their records are valid" "$tb" check-record "$tmp"/s/tiny-gpt2/*.json

# ---------------------------------------------------------------- a changed grid
grid "$tmp/g12.json" "$tmp/a" 12 "[1, 2]"
"$tb" grid run "$tmp/g12.json" >"$tmp/mismatch.out" 2>"$tmp/mismatch.err"; rc=$?
check "a grid changed under finished runs is refused (exit $rc), naming the record" \
  bash -c "[ $rc != 0 ] && [ \$(wc -l <'$tmp/mismatch.err') = 1 ] && grep -q 'has steps 6, seed 1, lr 0.001; the grid wants 12' '$tmp/mismatch.err'"

# ---------------------------------------------------------------- plots, tables, Slurm scripts
check "make plots and tables read the grid's folder" \
  bash -c "make --no-print-directory plots tables RECORDS='$tmp/a' PLOTS_OUT='$tmp/plots' TABLES_OUT='$tmp/tables' MUSIC_DIR='$tmp/music' >'$tmp/plots.log' 2>&1 && [ -s '$tmp/plots/loss.png' ] && grep -q 'tiny-mamba' '$tmp/tables/losses.md'"
grid "$tmp/gc.json" "$tmp/c" 6 "[1, 2]"
sed -i 's/"steps": 6,/"steps": 6, "backend": "cuda",/' "$tmp/gc.json"
"$tb" grid sbatch "$tmp/gc.json" >"$tmp/sbatch.out" 2>&1
s="$tmp/c/slurm/tiny-mamba.sbatch"
check "grid sbatch: a script per experiment" bash -c "[ -s '$tmp/c/slurm/tiny-gpt2.sbatch' ] && [ -s '$s' ]"
check "the script is an array of the experiment's runs (indices 4-7)" grep -qx '#SBATCH --array=4,5,6,7' "$s"
check "the script asks for the experiment's resources" \
  bash -c "grep -qx '#SBATCH --cpus-per-task=3' '$s' && grep -qx '#SBATCH --mem=1G' '$s' && grep -qx '#SBATCH --time=00:10:00' '$s'"
check "a task is sent SIGTERM 2 minutes before its time limit (it checkpoints)" grep -qx '#SBATCH --signal=B:TERM@120' "$s"
check "a cuda grid asks for a GPU and runs the CUDA build" \
  bash -c "grep -qx '#SBATCH --gres=gpu:1' '$s' && grep -q 'tunebench-cuda. grid run' '$s'"
check "the CPU grid's scripts ask for no GPU" bash -c "! grep -q gres '$tmp/a/slurm/'*.sbatch 2>/dev/null; '$tb' grid sbatch '$tmp/gb.json' >/dev/null && ! grep -q gres '$tmp/b/slurm/'*.sbatch"
check "a finished grid gets no job" grep -q 'all 8 runs are finished; nothing to submit' <("$tb" grid sbatch "$tmp/gb.json")

echo "test_grid: $passed passed, $failed failed"
[ "$failed" = 0 ]
