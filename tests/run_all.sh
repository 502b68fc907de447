#!/usr/bin/env bash
# Runs each test binary given, adds up their "N passed, N failed" lines and
# prints one closing line. Exits non-zero if any check failed or any test
# program crashed or printed no tally.
set -u
passed=0; failed=0; broken=""
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^FAIL' | head -n 20
  line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ -z "$line" ]; then
    broken+=" $(basename "$t")"; failed=$((failed + 1))
    printf '%s\n' "$out" | tail -n 20
    echo "$(basename "$t"): exited $rc with no tally"
    continue
  fi
  echo "$line"
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then broken+=" $(basename "$t")"; failed=$((failed + 1)); fi
done
[ -n "$broken" ] && echo "broken test programs:$broken"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
