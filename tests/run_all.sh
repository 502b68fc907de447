#!/usr/bin/env bash
# Runs each test program given, adds up their tally lines and prints one
# closing line, "N passed, N failed" (with ", N skipped" when any check was
# skipped). A program's tally is "<program>: N passed, N failed" and
# optionally ", N skipped", named after its file (build/tests/test_gpt2
# prints "test_gpt2: ..."), so that a failing line leads straight to its
# source. FAIL and SKIP lines (why a check failed, or could not run here) are
# shown. Exits non-zero if any check failed, or any program crashed, printed
# no tally or a tally under another name; skipped checks do not fail the run.
set -u
passed=0; failed=0; skipped=0; broken=""
for t in "$@"; do
  name=$(basename "$t"); name=${name%.sh}
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^(FAIL|SKIP)' | head -n 20
  line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -n 1)
  if [ -z "$line" ]; then
    broken+=" $name"; failed=$((failed + 1))
    printf '%s\n' "$out" | tail -n 20
    echo "$name: exited $rc with no tally"
    continue
  fi
  echo "$line"
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed(, [0-9]+ skipped)?$/\1/')
  s=0; case "$line" in *skipped) s=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped$/\1/') ;; esac
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "${line%%:*}" != "$name" ]; then
    broken+=" $name"; failed=$((failed + 1))
    echo "$name: its tally is named '${line%%:*}'; name it after the program (test_summary(\"$name\"))"
  elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then broken+=" $name"; failed=$((failed + 1)); fi
done
[ -n "$broken" ] && echo "broken test programs:$broken"
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" = 0 ]
