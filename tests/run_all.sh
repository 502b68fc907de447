#!/usr/bin/env bash
# Runs each test program given, adds up their tally lines and prints one
# closing line. A program's tally is "<program>: N passed, N failed", named
# after its file (build/tests/test_gpt2 prints "test_gpt2: ..."), so that a
# failing line leads straight to its source. Exits non-zero if any check
# failed, or any program crashed, printed no tally or a tally under another name.
set -u
passed=0; failed=0; broken=""
for t in "$@"; do
  name=$(basename "$t"); name=${name%.sh}
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^FAIL' | head -n 20
  line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ -z "$line" ]; then
    broken+=" $name"; failed=$((failed + 1))
    printf '%s\n' "$out" | tail -n 20
    echo "$name: exited $rc with no tally"
    continue
  fi
  echo "$line"
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "${line%%:*}" != "$name" ]; then
    broken+=" $name"; failed=$((failed + 1))
    echo "$name: its tally is named '${line%%:*}'; name it after the program (test_summary(\"$name\"))"
  elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then broken+=" $name"; failed=$((failed + 1)); fi
done
[ -n "$broken" ] && echo "broken test programs:$broken"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
