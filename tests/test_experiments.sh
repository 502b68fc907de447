#!/usr/bin/env bash
# test_experiments.sh: what a user types, end to end. `make exp-ARCH-6m`
# with STEPS=20 for every experiments/*-6m.json (one of each architecture:
# gpt2, mamba, lstm; on the real corpus and the real 6M configs, with a batch of 1
# and light validation and inference settings so that it stays quick), then
# `make plots` and `make tables` from the records they wrote, with tunes
# generated from the checkpoints and their music metrics. Every record must
# match the schema and be complete; every figure and table must exist.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/tb_test_experiments_XXXXXX)
# The build under test: make passes BUILD= (e.g. build-sanitize) down in MAKEFLAGS.
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_experiments: $what"; tail -n 5 "$tmp/checks.log"; fi
}
nonempty() { [ -s "$1" ]; }

light="--set eval.batches=1 --set inference.repeats=1 --set samples.count=1 --set samples.max_tokens=16"
models=$(for f in experiments/*-6m.json; do basename "$f" .json; done | paste -sd' ' -)
nmodels=$(printf '%s\n' $models | wc -l)
tiny=$(for e in $models; do printf 'tiny-%s\n' "${e%-6m}"; done | paste -sd, -)
for e in $models; do
  check "make exp-$e STEPS=20 (log $tmp/$e.log)" \
    bash -c "make --no-print-directory exp-$e STEPS=20 BATCH=1 RESULTS=$tmp/results TRAIN_FLAGS='$light' >$tmp/$e.log 2>&1"
  rec=$(ls "$tmp/results/$e/"*.json 2>/dev/null | head -n 1)
  check "$e: a record was written" nonempty "${rec:-/nonexistent}"
  check "$e: the record is valid and complete" "$build/tunebench" check-record --completed "${rec:-/nonexistent}"
  check "$e: a checkpoint next to the record" nonempty "${rec%.json}/model.safetensors"
  check "$e: the run said how long the protocol would take" grep -q "100000 steps would take" "$tmp/$e.log"
  check "$e: the record says how much of the machine the run had (timing.contention)" python3 -c "
import json, sys
c = json.load(open(sys.argv[1]))['timing']['contention']
assert c['scope'] == 'this segment' and c['threads'] >= 1 and c['cpu_seconds'] > 0, c
assert 0 < c['cpu_utilisation'] <= 1.5, c  # a little over 1: helper threads outside OpenMP's count
assert 0 <= c['other_processes_share'] <= 1 and 0 <= c['steal_share'] <= 1, c
assert c['other_processes_share'] + c['steal_share'] <= 1, c
" "${rec:-/nonexistent}"
  if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then  # the CLI bounded the spin and says so
    check "$e: the record states the bounded spin (GOMP_SPINCOUNT 10000)" grep -Eq '"gomp_spincount":[[:space:]]*"10000"' "${rec:-/nonexistent}"
    check "$e: the run's first lines state the thread policy" grep -q "^threads: idle OpenMP threads spin for GOMP_SPINCOUNT=10000" "$tmp/$e.log"
  fi
done

# Tunes from each checkpoint, scored (with the real tunes) against the first
# 20 validation tunes; make plots and make tables then show them too.
awk '/^X:/ { n++ } n <= 20' data/corpus/music21/control/val.abc >"$tmp/val20.abc"
music="RECORDS=$tmp/results GENERATED_DIR=$tmp/generated MUSIC_DIR=$tmp/music VAL_SPLIT=$tmp/val20.abc"
check "make generated" bash -c "make --no-print-directory generated $music GEN_N=2 GEN_SAMPLING='--max-tokens 64' >$tmp/generated.log 2>&1"
for e in $models; do
  check "$e: generated tunes" nonempty "$tmp/generated/$e/tune_002.abc"
  check "$e: the tunes start from a validation tune's header, as index.json says" python3 -c "
import json, sys
d = json.load(open('$tmp/generated/$e/index.json'))
p = d['tunes'][0]['prompt']
assert p.startswith('X:1\\n') and '\\nK:' in p and open('$tmp/generated/$e/tune_001.abc', 'rb').read().startswith(p.encode()), p
assert d['prompts_from'] == '$tmp/val20.abc' and d['checkpoint_kind'] in ('best', 'latest')
"
done
check "make music-eval" bash -c "make --no-print-directory music-eval $music >$tmp/music-eval.log 2>&1"
for s in validation $models; do check "music metrics of $s" nonempty "$tmp/music/$s.json"; done

check "make plots" bash -c "make --no-print-directory plots $music PLOTS_OUT=$tmp/plots >$tmp/plots.log 2>&1"
for p in loss val_bpb_time time_100k decode throughput_memory music_metrics; do
  for f in png svg; do check "plot $p.$f" nonempty "$tmp/plots/$p.$f"; done
done
check "make tables" bash -c "make --no-print-directory tables $music TABLES_OUT=$tmp/tables >$tmp/tables.log 2>&1"
for t in models training_time losses inference memory; do
  for f in tex md; do check "table $t.$f" nonempty "$tmp/tables/$t.$f"; done
  check "table $t has a row for each of the $nmodels models (GPT-2 6M, ...)" \
    bash -c "grep -q 'GPT-2 6M' $tmp/tables/$t.md && [ \$(grep -c '^| [^|]* 6M |' $tmp/tables/$t.md) = $nmodels ]"
done
check "facts.tex" grep -q 'tbCpuModel' "$tmp/tables/facts.tex"
check "music table: the $nmodels models and the real tunes" \
  bash -c "for s in $models validation; do grep -q \"| \$s |\" $tmp/tables/music_metrics.md || exit 1; done"
check "music-table rejects a --generation file that is not an index.json" \
  bash -c "! $build/tunebench music-table --out $tmp/bad --generation $tmp/val20.abc validation=$tmp/music/validation.json 2>$tmp/bad.err && grep -q 'not a .tunebench generate. index.json' $tmp/bad.err"
check "music table: the generation settings for the paper" \
  bash -c "grep -q 'newcommand{.tbGenN}{2}' $tmp/tables/music_metrics_generation.tex && grep -q 'tbGenPrompt}{the header .* of a real tune of' $tmp/tables/music_metrics_generation.tex"

# The benchmark end to end on the tiny configs: the machine's limits (the sgemm
# both on OpenBLAS's threads and on the models' OpenMP split), MFU against the
# sgemm rate and decode against the bandwidth of the same moments, for each
# architecture.
check "tunebench bench on $tiny writes its JSON" \
  "$build/tunebench" bench --model "$tiny" --threads 2 --batch 2 --seq 16 --steps 1 \
  --warmup 0 --decode-steps 3 --out "$tmp/bench.json"
check "bench: the sgemm peak both ways" \
  bash -c "grep -Eq '\"gflops_openblas_threads\":[[:space:]]+[1-9]' $tmp/bench.json && grep -Eq '\"gflops_openmp_split\":[[:space:]]+[1-9]' $tmp/bench.json"
check "bench: decode paired with the bandwidth, for the $nmodels models" \
  bash -c "[ \$(grep -Ec '\"decode_ms_over_limit_paired\":[[:space:]]+[0-9]*[.]?[0-9]' $tmp/bench.json) = $nmodels ] && [ \$(grep -c '\"rounds\":[[:space:]]*3' $tmp/bench.json) = $nmodels ]"
check "bench: MFU against the sgemm rate of the same moments, for the $nmodels models" \
  bash -c "[ \$(grep -Ec '\"mfu_vs_sgemm_paired\":[[:space:]]+[0-9]*[.]?[0-9]' $tmp/bench.json) = $nmodels ]"
check "bench rejects a --peer-models name that it does not measure" \
  bash -c "! $build/tunebench bench --model mamba-6m --peer scripts/bench_torch_mamba.py --peer-models mamba-60m 2>$tmp/bench.err && grep -q \"names 'mamba-60m', which is not in --model\" $tmp/bench.err"

if [ "$failed" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp for inspection"; fi
echo "test_experiments: $passed passed, $failed failed"
[ "$failed" = 0 ]
