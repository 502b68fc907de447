#!/usr/bin/env bash
# test_study.sh: the study's commands end to end, on the tiny GPT-2 config
# with a few steps (seconds):
# - make sweep-gpt2-6m: five runs at lr x 1/4 .. 4, each a normal run with its
#   own record; SWEEP_DIR/gpt2-6m.json names every rate, the rule and the rate
#   with the lowest final validation bpb; the figure is drawn; the same
#   command again reuses the runs; a run whose record says it diverged is
#   never chosen.
# - make exp-gpt2-6m SEEDS="1 2": one run per seed, the run ids carry it; the
#   tables give mean +- sd over the two seeds and the per-record facts.
# - make plots tables RECORDS=<tmp> writes under <tmp>/report/ and changes no
#   tracked file; records of two hosts are refused unless ALLOW_MIXED=1, and
#   then every figure and the facts say so.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/tb_test_study_XXXXXX)
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_study: $what"; tail -n 5 "$tmp/checks.log"; fi
}
tiny="--set model=tiny-gpt2 --set seq_len=16 --set eval.batches=1 --set inference.repeats=1 --set samples.count=0"
tracked_before=$(git status --porcelain --untracked-files=no 2>/dev/null; git diff 2>/dev/null | md5sum)

# ---------------------------------------------------------------- the sweep
sweep="make --no-print-directory sweep-gpt2-6m STEPS=6 BATCH=2 THREADS=1 SWEEP_DIR=$tmp/sweep TRAIN_FLAGS='$tiny'"
check "make sweep-gpt2-6m STEPS=6 (log $tmp/sweep.log)" bash -c "$sweep >$tmp/sweep.log 2>&1"
json=$tmp/sweep/gpt2-6m.json
check "the sweep's JSON is written" test -s "$json"
# lr and final_val_bpb of each run, in the file's order (cJSON: one key a
# line), and the chosen lr.
flat() { tr -d '\t ,' <"$1"; }
pairs() { flat "$1" | awk -F: '/^"choice":/ { c = 1 } /^"lr":/ && !c { lr = $2 } /^"final_val_bpb":/ && !c { print lr, $2 }'; }
choice() { flat "$1" | awk -F: '/^"choice":/ { c = 1 } /^"lr":/ && c { print $2; exit }'; }
rates=$(pairs "$json" | cut -d' ' -f1 | paste -sd' ')
check "five rates, log-spaced around the config's 2e-3 ($rates)" [ "$rates" = "0.0005 0.001 0.002 0.004 0.008" ]
lowest=$(pairs "$json" | sort -g -k2 | head -n 1 | cut -d' ' -f1)
chosen=$(choice "$json")
check "the choice ($chosen) is the rate with the lowest final bpb ($lowest)" [ -n "$lowest" ] && [ "$chosen" = "$lowest" ]
check "the JSON states the rule" grep -Eq '"rule":[[:space:]]*"the lowest final validation bits per byte' "$json"
check "the run says how to carry the choice into the experiment" \
  grep -q "make exp-gpt2-6m TRAIN_FLAGS=\"--set optimizer.lr=$chosen\"" "$tmp/sweep.log"
n_records=0
for r in "$tmp"/sweep/gpt2-6m/sweep-n6-lr*-s1337-*.json; do
  [ -f "$r" ] || continue
  n_records=$((n_records + 1))
  check "sweep run $(basename "$r") is a complete record" "$build/tunebench" check-record --completed "$r"
done
check "one record per rate (5), got $n_records" [ "$n_records" = 5 ]
check "each run id in the JSON names a record" \
  bash -c "ids=\$(tr -d '\t ,\"' <$json | sed -n 's/^run_id://p' | sort -u); [ \$(echo \$ids | wc -w) = 5 ] && for id in \$ids; do [ -f $tmp/sweep/gpt2-6m/\$id.json ] || exit 1; done"
check "the figure lr_sweep.png is drawn" test -s "$tmp/sweep/lr_sweep.png"
check "the figure's data has the five rates" [ "$(grep -vc '^#' "$tmp/sweep/data/sweep_gpt2-6m.dat")" = 5 ]

# The chosen run's record now says it diverged (null final bpb): the same
# command reuses every run and chooses another rate.
rec=$(ls "$tmp"/sweep/gpt2-6m/sweep-n6-lr${chosen}-s1337-*.json)
sed -i -E 's/"status":[[:space:]]*"completed"/"status": "diverged"/' "$rec"
check "the same command again (log $tmp/sweep2.log)" bash -c "$sweep >$tmp/sweep2.log 2>&1"
check "it reuses the five runs" [ "$(grep -c 'reusing' "$tmp/sweep2.log")" = 5 ]
chosen2=$(choice "$json")
check "a diverged run is never chosen (was $chosen, now $chosen2)" [ -n "$chosen2" ] && [ "$chosen2" != "$chosen" ]
check "its verdict says diverged" grep -Eq '"verdict":[[:space:]]*"diverged: not eligible"' "$json"
check "make sweep-gpt2-6m without STEPS says how to give it" \
  bash -c "! make --no-print-directory sweep-gpt2-6m SWEEP_DIR=$tmp/nosteps >$tmp/nosteps.log 2>&1 && grep -q 'give STEPS=N' $tmp/nosteps.log"
check "make sweep-NAME with an unknown NAME says which exist and fails" \
  bash -c "! MAKEFLAGS= make --no-print-directory sweep-no-such-run >$tmp/unknown.log 2>&1 && [ \$(wc -l <$tmp/unknown.log) = 1 ] && grep -q 'no experiments/no-such-run.json; the experiments are: .*-6m' $tmp/unknown.log"
check "tunebench sweep refuses --set optimizer.lr" \
  bash -c "! $build/tunebench sweep --config experiments/gpt2-6m.json --steps 5 --set optimizer.lr=1e-3 2>$tmp/lr.err && grep -q 'give the rates with --lrs' $tmp/lr.err"
check "tunebench sweep refuses an out-of-range rate before training" \
  bash -c "! $build/tunebench sweep --config experiments/gpt2-6m.json --steps 5 --results $tmp/bad --lrs '1e-3 5' 2>$tmp/lrs.err && grep -q 'out of range' $tmp/lrs.err && [ ! -d $tmp/bad ]"

# ---------------------------------------------------------------- seeds
check "make exp-gpt2-6m SEEDS=\"1 2\" (log $tmp/seeds.log)" \
  bash -c "make --no-print-directory exp-gpt2-6m STEPS=6 BATCH=2 THREADS=1 SEEDS='1 2' RESULTS=$tmp/results TRAIN_FLAGS='$tiny' >$tmp/seeds.log 2>&1"
check "one run per seed, the run ids carry it" \
  bash -c "ls $tmp/results/gpt2-6m/*-s1.json && ls $tmp/results/gpt2-6m/*-s2.json"
check "SEED= and SEEDS= together are refused" \
  bash -c "! make --no-print-directory exp-gpt2-6m SEED=1 SEEDS='1 2' >$tmp/both.log 2>&1 && grep -q 'not both' $tmp/both.log"

# ---------------------------------------------------------------- user plots and tables
check "make plots tables RECORDS=$tmp/results (log $tmp/plots.log)" \
  bash -c "make --no-print-directory plots tables RECORDS=$tmp/results >$tmp/plots.log 2>&1"
for p in loss loss_tokens val_bpb_time time_100k decode throughput_memory; do
  check "plot $p.png under RECORDS/report/plots" test -s "$tmp/results/report/plots/$p.png"
done
check "the tables under RECORDS/report/tables" test -s "$tmp/results/report/tables/losses.md"
check "no tracked file changed" [ "$(git status --porcelain --untracked-files=no 2>/dev/null; git diff 2>/dev/null | md5sum)" = "$tracked_before" ]
check "the losses table gives mean +- sd over 2 seeds" \
  grep -Eq '^\| GPT-2 6M \| 2 \| 6 \| [0-9.]+ \+- [0-9.]+ \| [0-9.]+ \+- [0-9.]+ \| [0-9.]+ \+- [0-9.]+ \|' "$tmp/results/report/tables/losses.md"
check "the runs table names both seeds" grep -Eq '^\| GPT-2 6M \| 1 2 \| 6 \| 0 \|' "$tmp/results/report/tables/runs.md"
check "the comparisons file exists" test -f "$tmp/results/report/tables/comparisons.md"
check "the curves have a band (min and max over seeds)" \
  awk '!/^#/ && NF == 8 && $8 == 2 && $5 <= $4 && $4 <= $6 { ok = 1 } END { exit !ok }' "$tmp/results/report/plots/data/val_gpt2-6m.dat"

# A record of another host and warmup, as another experiment: refused, then
# plotted with ALLOW_MIXED=1, the figures and the facts saying so.
one=$(ls "$tmp"/results/gpt2-6m/*-s1.json | head -n 1)
mkdir -p "$tmp/results/other"
sed -E -e 's/"cpu_model":[[:space:]]*"[^"]*"/"cpu_model": "Another CPU"/' \
    -e 's/"experiment":[[:space:]]*"gpt2-6m"/"experiment": "other"/' \
    -e 's/"warmup_steps":[[:space:]]*[0-9]*/"warmup_steps": 7/' "$one" >"$tmp/results/other/x-s1.json"
check "records of two hosts are refused" \
  bash -c "! make --no-print-directory plots RECORDS=$tmp/results >$tmp/mixed.log 2>&1 && grep -q 'come from 2 CPU models' $tmp/mixed.log && grep -q 'ALLOW_MIXED=1' $tmp/mixed.log"
check "ALLOW_MIXED=1 plots them (log $tmp/mixed2.log)" \
  bash -c "make --no-print-directory plots tables RECORDS=$tmp/results ALLOW_MIXED=1 >$tmp/mixed2.log 2>&1"
check "every figure names the hosts" grep -q '^provenance = "mixed records.*2 CPUs.*Another CPU' "$tmp/results/report/plots/data/runs.gp"
check "the facts say the hosts differ" grep -q 'tbCpuModel}{differs per run' "$tmp/results/report/tables/facts.tex"
check "the warmup is not taken from the first record" grep -q 'tbWarmup}{differs per run' "$tmp/results/report/tables/facts.tex"
check "the runs table gives each record's warmup" grep -Eq '^\| other \| 1 \| 6 \| 7 \|' "$tmp/results/report/tables/runs.md"
check "still no tracked file changed" [ "$(git status --porcelain --untracked-files=no 2>/dev/null; git diff 2>/dev/null | md5sum)" = "$tracked_before" ]

if [ "$failed" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp for inspection"; fi
echo "test_study: $passed passed, $failed failed"
[ "$failed" = 0 ]
