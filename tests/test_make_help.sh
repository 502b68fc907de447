#!/usr/bin/env bash
# test_make_help.sh: `make help` names every .PHONY target of the Makefile and
# mk/*.mk, and nothing that is not one, one line each. The list is made from
# the `##` comment lines beside the targets (scripts/make_help.awk); this test
# is what keeps the two from drifting apart when a target is added.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_make_help: $what"; fi
}

help=$(make --no-print-directory -s help 2>&1); rc=$?
check "make help exits 0 (it said: $(printf '%s' "$help" | head -n 3))" [ "$rc" = 0 ]
# The database make reads, without building anything (-q, a target that does not exist).
phony=$(make --no-print-directory -pq __tb_no_such_target__ 2>/dev/null | sed -n 's/^\.PHONY: //p' | tr ' ' '\n' | sort -u | grep -v '^$')
check "the make database lists .PHONY targets" [ -n "$phony" ]
listed=$(printf '%s\n' "$help" | sed -n 's/^  make \([^ ]*\).*/\1/p' | sort)

for t in $phony; do
  check "the .PHONY target '$t' is in make help (add a '## $t  what it does' line to its mk/*.mk header)" \
    grep -qx -- "$t" <<<"$listed"
done
for t in $listed; do
  check "make help lists '$t', which is not a .PHONY target" grep -qx -- "$t" <<<"$phony"
done
check "make help lists each target once" [ -z "$(printf '%s\n' "$listed" | uniq -d)" ]
check "make help groups its lines (at least 5 groups)" [ "$(printf '%s\n' "$help" | grep -c '^[A-Z]')" -ge 5 ]

# The convention is checked, not assumed: a ## line outside a group is an error.
tmp=$(mktemp /tmp/tb_make_help_XXXXXX.mk)
printf '## orphan  a line without a group\n' >"$tmp"
check "make_help.awk rejects a ## line without a ##@ group" bash -c "! awk -f scripts/make_help.awk '$tmp' >/dev/null 2>&1"
rm -f "$tmp"

echo "test_make_help: $passed passed, $failed failed"
[ "$failed" = 0 ]
