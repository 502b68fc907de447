#!/usr/bin/env bash
# test_make_help.sh: `make help` names every .PHONY target of the Makefile and
# mk/*.mk, and nothing that is not one, one line each. The list is made from
# the `##` comment lines beside the targets (scripts/make_help.awk); this test
# is what keeps the two from drifting apart when a target is added.
# A family of targets made from a list (exp-NAME, bench-ARCH) is one line
# followed by its list ("NAME: gpt2-6m ..."); it documents exactly the
# targets its placeholder expands to, and each of them must be .PHONY.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_make_help: $what"; fi
}
# documented < HELP: the targets a help text names (tests/help_targets.awk).
documented() { awk -f tests/help_targets.awk; }

help=$(make --no-print-directory -s help 2>&1); rc=$?
check "make help exits 0 (it said: $(printf '%s' "$help" | head -n 3))" [ "$rc" = 0 ]
# The database make reads, without building anything (-q, a target that does not exist).
phony=$(make --no-print-directory -pq __tb_no_such_target__ 2>/dev/null | sed -n 's/^\.PHONY: //p' | tr ' ' '\n' | sort -u | grep -v '^$')
check "the make database lists .PHONY targets" [ -n "$phony" ]
listed=$(printf '%s\n' "$help" | documented | sort)

for t in $phony; do
  check "the .PHONY target '$t' is in make help (add a '## $t  what it does' line to its mk/*.mk header)" \
    grep -qx -- "$t" <<<"$listed"
done
for t in $listed; do
  check "make help lists '$t', which is not a .PHONY target" grep -qx -- "$t" <<<"$phony"
done
check "make help lists each target once" [ -z "$(printf '%s\n' "$listed" | uniq -d)" ]
check "make help groups its lines (at least 5 groups)" [ "$(printf '%s\n' "$help" | grep -c '^[A-Z]')" -ge 5 ]

# The generated families: one exp-NAME per experiments/NAME.json, the 6M ones
# before the 60M ones (make reference trains in this order).
experiments=$(ls experiments/*.json | sed 's|^experiments/||; s|\.json$||' | sort)
check "exp-NAME is documented for every experiments/*.json" \
  [ "$(printf '%s\n' "$listed" | sed -n 's/^exp-//p' | grep -vx all | sort)" = "$experiments" ]
names=$(printf '%s\n' "$help" | sed -n 's/^ *NAME: //p')
check "the 6M experiments come before the 60M ones (NAME: $names)" \
  bash -c '[ -z "$(printf "%s\n" $0 | sed -n "/-60m$/,\$p" | grep -- "-6m$")" ]' "$names"
check "make exp-NAME with an unknown NAME says which exist and fails" \
  bash -c "! MAKEFLAGS= make --no-print-directory exp-no-such-run >/tmp/tb_make_help_$$.out 2>&1 && [ \$(wc -l </tmp/tb_make_help_$$.out) = 1 ] && grep -q 'no experiments/no-such-run.json; the experiments are: .*-6m' /tmp/tb_make_help_$$.out"
rm -f /tmp/tb_make_help_$$.out

# BACKEND=cuda where the GPU probe finds none (made to fail here) stops before
# anything is built, in one line that says BACKEND=cpu and GPU_CHECK=0;
# GPU_CHECK=0 goes on to the CUDA binary (make -n: nothing is compiled).
exp=$(printf '%s\n' $experiments | head -n 1)
nogpu=$(MAKEFLAGS= make --no-print-directory -n "exp-$exp" BACKEND=cuda BACKEND_DEVICE_PROBE_cuda=false 2>&1); rc=$?
check "make exp-$exp BACKEND=cuda without a GPU fails (rc $rc)" [ "$rc" != 0 ]
check "... in one line, before any command (it said: $(printf '%s' "$nogpu" | head -n 3))" \
  [ "$(printf '%s\n' "$nogpu" | wc -l)" = 1 ]
check "... that names BACKEND=cpu and GPU_CHECK=0 (it said: $nogpu)" \
  bash -c 'grep -q "exp-$1 BACKEND=cuda: this machine has no GPU.*BACKEND=cpu.*GPU_CHECK=0" <<<"$0"' "$nogpu" "$exp"
check "... and not --backend, a flag of tunebench, not of make" bash -c '! grep -q -- "--backend" <<<"$0"' "$nogpu"
forced=$(MAKEFLAGS= make --no-print-directory -n "exp-$exp" BACKEND=cuda BACKEND_DEVICE_PROBE_cuda=false GPU_CHECK=0 2>&1); rc=$?
check "GPU_CHECK=0 skips the check and trains with the CUDA binary (rc $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "tunebench-cuda train --config experiments/$2.json --backend cuda" <<<"$0"' "$forced" "$rc" "$exp"

# The convention is checked, not assumed: a ## line outside a group is an
# error, a pattern line needs its list, and a pattern documents its names and
# nothing else.
tmp=$(mktemp /tmp/tb_make_help_XXXXXX.mk)
printf '## orphan  a line without a group\n' >"$tmp"
check "make_help.awk rejects a ## line without a ##@ group" bash -c "! awk -f scripts/make_help.awk '$tmp' >/dev/null 2>&1"
printf '##@ Group\n## run-WHAT  a family\n## plain  one target\n' >"$tmp"
check "make_help.awk rejects a pattern line whose list is not exported" \
  bash -c "! env -u HELP_run_WHAT awk -f scripts/make_help.awk '$tmp' >/dev/null 2>&1"
family=$(HELP_run_WHAT="a  b-1" awk -f scripts/make_help.awk "$tmp" | documented | tr '\n' ' ')
check "a pattern line documents exactly its list's targets (got: $family)" [ "$family" = "run-a run-b-1 plain " ]
rm -f "$tmp"

echo "test_make_help: $passed passed, $failed failed"
[ "$failed" = 0 ]
