#!/usr/bin/env bash
# test_cuda_deferred.sh: every CUDA test again under the emulation's deferred
# mode (SIMT_DEFERRED=1, emu/simt_stream.h): launches, cuBLAS calls and async
# copies run only at the next synchronisation, as a GPU runs them after the
# host has moved on. A host read that the backend does not order with a
# stream synchronisation then sees stale memory and a check fails; `make
# test` runs the same programs in the ordinary mode before this one.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
passed=0; failed=0
progs=$(ls "$build"/tests/test_cuda_* 2>/dev/null | grep -vE '\.(o|d)$')
if [ -z "$progs" ]; then
  echo "FAIL test_cuda_deferred: no $build/tests/test_cuda_* programs (build them with make test)"
  failed=1
fi
for t in $progs; do
  out=$(SIMT_DEFERRED=1 "$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  printf '%s\n' "$out" | grep -E '^FAIL' | head -n 10 | sed "s|^FAIL|FAIL (deferred)|"
  if [ -z "$line" ]; then
    echo "FAIL test_cuda_deferred: $t exited $rc with no tally under SIMT_DEFERRED=1"
    printf '%s\n' "$out" | tail -n 5
    failed=$((failed + 1)); continue
  fi
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" != 0 ] && [ "$f" = 0 ] && { echo "FAIL test_cuda_deferred: $t exited $rc"; failed=$((failed + 1)); }
done
echo "test_cuda_deferred: $passed passed, $failed failed"
[ "$failed" = 0 ]
