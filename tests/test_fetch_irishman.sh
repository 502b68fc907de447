#!/usr/bin/env bash
# test_fetch_irishman.sh: scripts/fetch_corpus.sh irishman without Hugging
# Face (none is reachable here): a failed download stops with one line saying
# what to download and where to put it; files put there by hand are checked
# against the pinned sha256 (a wrong train.json is refused in one line), and
# the pinned revision goes into SOURCE, which prepare copies into the manifest.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_fetch_irishman: $what"; fi
}
tmp=$(mktemp -d /tmp/tb_test_fetch_XXXXXX)
rev=$(sed -n 's/^IRISHMAN_REVISION=//p' scripts/fetch_corpus.sh)
check "the revision is pinned to a full commit hash ($rev)" grep -Eqx '[0-9a-f]{40}' <<<"$rev"

# No network: port 9 of 127.0.0.1 refuses the connection.
out=$tmp/download
TB_IRISHMAN_URL=http://127.0.0.1:9 bash scripts/fetch_corpus.sh irishman "$out" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check "no network: a non-zero exit ($rc)" test "$rc" != 0
check "no network: one line on stderr ($(wc -l <"$tmp/stderr"))" test "$(wc -l <"$tmp/stderr")" = 1
check "no network: it names both files, the pinned revision's page and the folder" \
  grep -q "download train.json validation.json from https://huggingface.co/datasets/sander-wood/irishman/tree/$rev into $out/" "$tmp/stderr"
check "no network: no partial file left" test ! -e "$out/train.json" -a ! -e "$out/train.json.part"

# A train.json put there by hand that is not the pinned one.
cp tests/fixtures/irishman/train.json tests/fixtures/irishman/validation.json "$out/"
bash scripts/fetch_corpus.sh irishman "$out" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check "a wrong train.json: a non-zero exit ($rc)" test "$rc" != 0
check "a wrong train.json: one line naming its sha256 and the pinned one" \
  bash -c "test \$(wc -l <'$tmp/stderr') = 1 && grep -q 'train.json has sha256 $(sha256sum "$out/train.json" | cut -d' ' -f1), not the pinned' '$tmp/stderr'"
check "a wrong train.json: no SOURCE written" test ! -e "$out/SOURCE"

# The `make data DATASET=irishman` line: the same script, then prepare.
check "make data DATASET=irishman runs the fetch, then prepare --corpus irishman" \
  bash -c "make -n --no-print-directory data DATASET=irishman MAKEFLAGS= 2>/dev/null | grep -q 'fetch_corpus.sh irishman' &&
           make -n --no-print-directory data DATASET=irishman MAKEFLAGS= 2>/dev/null | grep -q 'prepare .*--corpus irishman .*data/corpus/irishman/download'"

if [ "$failed" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp for inspection"; fi
echo "test_fetch_irishman: $passed passed, $failed failed"
[ "$failed" = 0 ]
