#!/usr/bin/env bash
# test_run_all.sh: tests/run_all.sh, the closing tally of `make test`, run on
# small test programs written here: it adds up passed, failed and skipped
# checks, shows each SKIP line (why a check could not run), ends with
# "N passed, N failed" or, when anything was skipped, "N passed, N failed,
# N skipped", and fails the run on a failed check, a crash or a missing
# tally, never on a skipped check.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_run_all: $what"; fi
}
dir=$(mktemp -d /tmp/tb_test_run_all.XXXXXX)
program() {  # program NAME BODY: an executable test program dir/NAME
  printf '#!/usr/bin/env bash\n%s\n' "$2" > "$dir/$1"; chmod +x "$dir/$1"
}
program test_ok 'echo "test_ok: 3 passed, 0 failed"'
program test_skips 'echo "SKIP test_skips: no frobnicator here"; echo "test_skips: 1 passed, 0 failed, 2 skipped"'
program test_fails 'echo "FAIL x.c:1: wrong"; echo "test_fails: 4 passed, 1 failed"; exit 1'
program test_silent 'exit 0'

out=$(bash tests/run_all.sh "$dir/test_ok" "$dir/test_skips"); rc=$?
check "passing and skipping programs: exit 0 (got $rc)" [ "$rc" = 0 ]
check "the closing line counts the skipped checks: $(printf '%s' "$out" | tail -n 1)" \
  [ "$(printf '%s\n' "$out" | tail -n 1)" = "4 passed, 0 failed, 2 skipped" ]
check "the reason for the skip is shown" grep -q '^SKIP test_skips: no frobnicator here$' <<< "$out"
check "each program's tally is shown with its skipped count" grep -q '^test_skips: 1 passed, 0 failed, 2 skipped$' <<< "$out"

out=$(bash tests/run_all.sh "$dir/test_ok"); rc=$?
check "nothing skipped: the closing line has no skipped count ($(printf '%s' "$out" | tail -n 1))" \
  test "$rc/$(printf '%s\n' "$out" | tail -n 1)" = "0/3 passed, 0 failed"

out=$(bash tests/run_all.sh "$dir/test_ok" "$dir/test_skips" "$dir/test_fails"); rc=$?
check "a failed check fails the run (exit $rc)" [ "$rc" != 0 ]
check "failed and skipped add up: $(printf '%s' "$out" | tail -n 1)" \
  [ "$(printf '%s\n' "$out" | tail -n 1)" = "8 passed, 1 failed, 2 skipped" ]

out=$(bash tests/run_all.sh "$dir/test_ok" "$dir/test_silent"); rc=$?
check "a program with no tally fails the run (exit $rc)" [ "$rc" != 0 ]
check "and is named: $(printf '%s' "$out" | tail -n 2 | head -n 1)" grep -q 'broken test programs: test_silent' <<< "$out"

out=$(bash tests/test_torch_lstm.sh 2>&1); rc=$?
if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  check "test_torch_lstm runs with torch installed (exit $rc)" [ "$rc" = 0 ]
else
  check "test_torch_lstm without torch says why and counts itself skipped" \
    grep -q '^SKIP test_torch_lstm: /usr/bin/python3 has no torch' <<< "$out"
  check "test_torch_lstm without torch: its tally is 0 passed, 0 failed, 1 skipped" \
    grep -q '^test_torch_lstm: 0 passed, 0 failed, 1 skipped$' <<< "$out"
fi

rm -rf "$dir"
echo "test_run_all: $passed passed, $failed failed"
[ "$failed" = 0 ]
