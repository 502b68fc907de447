#!/usr/bin/env bash
# test_bf16_curves.sh: scripts/bench_bf16_curves.sh (make bench-bf16-curves)
# end to end on a short run: lstm-6m, 25 steps at 2 x 16 on a synthetic corpus,
# in fp32 and bf16. It writes its JSON (temporary file, then rename) with both
# curves' figures and the verdict, and exits 0 within the bound; with the
# per-step bound narrowed to 0 the same runs are outside it (the curves do
# differ) and it says so and exits non-zero. On a CPU without AVX512-BF16 it
# stops at the bf16 run, non-zero, showing that run's one line.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
bin=$build/tunebench
tmp=$(mktemp -d /tmp/tb_test_bf16_curves_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_bf16_curves: $what"; fi
}

awk 'BEGIN { srand(5); notes = "CDEFGABcdefgab";
  for (t = 1; t <= 200; t++) { printf "X:%d\nT:Tune %d\nM:6/8\nL:1/8\nK:D\n", t, t;
    for (b = 0; b < 8; b++) { for (i = 0; i < 6; i++) printf "%s", substr(notes, int(rand() * 14) + 1, 1); printf "|" }
    printf "\n\n" } }' >"$tmp/tunes.abc"
"$bin" prepare --tokenizer bytes --style plain --out "$tmp/corpus" "$tmp/tunes.abc" >"$tmp/prepare.log" 2>&1
check "prepare a corpus ($(tail -n 1 "$tmp/prepare.log"))" [ -f "$tmp/corpus/local/plain-bytes/train.bin" ]

bench() {  # bench OUT [VAR=VALUE...]: the script on the short run
  local out=$1; shift
  env BF16_MODELS=lstm-6m BF16_STEPS=25 BF16_BATCH=2 BF16_SEQ=16 BF16_EVAL_BATCHES=1 \
    BF16_DATA="$tmp/corpus/local/plain-bytes" "$@" bash scripts/bench_bf16_curves.sh "$build" "$out"
}
bench "$tmp/ok.json" >"$tmp/ok.log" 2>&1; rc=$?
if grep -q avx512_bf16 /proc/cpuinfo; then
  check "within the bound: exit 0 (exit $rc: $(tail -n 2 "$tmp/ok.log"))" [ "$rc" = 0 ]
  check "the JSON is written, and no temporary file is left" \
    bash -c "[ -s '$tmp/ok.json' ] && [ ! -e '$tmp/ok.json.tmp' ]"
  check "the JSON names the run: lstm-6m, 25 steps, batch 2 x 16" \
    bash -c "grep -q '\"model\": \"lstm-6m\", \"steps\": 25,' '$tmp/ok.json' && grep -q '\"batch_size\": 2,' '$tmp/ok.json' && grep -q '\"seq_len\": 16,' '$tmp/ok.json'"
  check "the JSON has both final validations and the differences" \
    bash -c "grep -Eq '\"val_bpb\": \{\"fp32\": [0-9]+\.[0-9]+, \"bf16\": [0-9]+\.[0-9]+\}' '$tmp/ok.json' && grep -q '\"max_abs_loss_diff\": ' '$tmp/ok.json'"
  check "the verdict: within the bound" bash -c "grep -q '\"pass\": true' '$tmp/ok.json' && grep -q '\"all_pass\": true' '$tmp/ok.json'"
  bench "$tmp/narrow.json" BF16_STEP_TOL=0 >"$tmp/narrow.log" 2>&1; rc=$?
  check "a per-step bound of 0: exit non-zero (exit $rc)" [ "$rc" != 0 ]
  check "a per-step bound of 0: the JSON says outside it" \
    bash -c "grep -q '\"pass\": false' '$tmp/narrow.json' && grep -q '\"all_pass\": false' '$tmp/narrow.json' && grep -q '1 of 1 models outside the bound' '$tmp/narrow.log'"
else
  check "without AVX512-BF16: exit non-zero with the bf16 run's line" \
    bash -c "[ '$rc' != 0 ] && grep -q 'lstm-6m bf16 failed' '$tmp/ok.log' && grep -qi 'bf16' '$tmp/ok.log' && [ ! -e '$tmp/ok.json' ]"
fi
echo "test_bf16_curves: $passed passed, $failed failed"
[ "$failed" = 0 ]
