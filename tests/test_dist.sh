#!/usr/bin/env bash
# test_dist.sh: data-parallel training over MPI (src/runner/dist.h), CPU path.
# `mpirun -np 2 build/tunebench-mpi train --ranks 2` against one process at
# the same global batch (4 sequences, 1 thread each), on the tiny GPT-2 and
# Mamba: the loss and gradient-norm curves agree within fp32 rounding
# (relative 1e-5; measured about 1e-7), so the gradient buckets sent during
# the backward cover every gradient; two 2-rank runs are bit-identical, a
# 2-rank run stopped after step 4 resumes under 2 ranks to the bits of one
# never stopped, a loss that diverges on rank 0 ends every rank (rank 0
# finishes the others' step), and every launch that cannot work is refused
# in one line: another rank count on a resume, --ranks without MPI, MPI ranks
# without --ranks, a batch that does not split. The NCCL bootstrap's MPI part
# runs on 2 CPU ranks (tests/mpi_bootstrap.c).
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
tb=$build/tunebench
passed=0; failed=0
if ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
  echo "SKIP test_dist: OpenMPI is not installed (scripts/deps.sh build installs openmpi-bin and libopenmpi-dev)"
  echo "test_dist: 0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(mktemp -d /tmp/tb_test_dist_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_dist: $what"; tail -n 5 "$tmp/checks.log"; fi
}
make --no-print-directory BUILD="$build" "$build/tunebench-mpi" >"$tmp/build.log" 2>&1
check "make $build/tunebench-mpi (log $tmp/build.log)" test -x "$build/tunebench-mpi"

. tests/dist_common.sh

for a in gpt2 mamba; do
  tiny_config "$a"
  cfg="--config $tmp/tiny-$a.json $light"
  d=$tmp/r/tiny-$a
  "$tb" train $cfg --run-id one >"$tmp/$a-one.log" 2>&1
  mpi 2 "$build/tunebench-mpi" train $cfg --ranks 2 --run-id two >"$tmp/$a-two.log" 2>&1; rc=$?
  check "$a: mpirun -np 2 ... --ranks 2 completes (exit $rc; log $tmp/$a-two.log)" [ "$rc" = 0 ]
  check "$a: the 2-rank record is valid and completed" "$tb" check-record --completed "$d/two.json"
  check "$a: the record says ranks 2" grep -Eq '"ranks":[[:space:]]*2' "$d/two.json"
  check "$a: ... over the MPI transport, without NCCL" \
    bash -c "grep -Eq '\"transport\":[[:space:]]*\"mpi\"' '$d/two.json' && grep -Eq '\"nccl_version\":[[:space:]]*null' '$d/two.json'"
  check "$a: the 1-process record has no data_parallel" bash -c "! grep -q data_parallel '$d/one.json'"
  check "$a: one record and checkpoint (rank 0's)" bash -c "[ \$(ls '$d' | grep '^two' | grep -cv '^two[.]best\$') = 3 ]"  # two.json, two/, two.lock (and two.best/)
  check "$a: 2 ranks give the loss curve of 1 process at the same global batch" close train_loss "$d/one.json" "$d/two.json"
  check "$a: ... and its gradient norms" close grad_norm "$d/one.json" "$d/two.json"
  mpi 2 "$build/tunebench-mpi" train $cfg --ranks 2 --run-id again >"$tmp/$a-again.log" 2>&1
  check "$a: two 2-rank runs are bit-identical" same "$d/two.json" "$d/again.json"

  mpi 2 -x TUNEBENCH_FAULT_STOP_STEP=4 "$build/tunebench-mpi" train $cfg --ranks 2 --run-id stop >"$tmp/$a-stop.log" 2>&1; rc=$?
  check "$a: a 2-rank run stopped after step 4 exits non-zero ($rc) with a checkpoint" \
    bash -c "[ $rc != 0 ] && grep -q 'stopped by signal' '$tmp/$a-stop.log' && [ -d '$d/stop' ]"
  if [ "$a" = gpt2 ]; then  # the refusals do not depend on the architecture
    "$tb" train --resume "$d/stop" >"$tmp/$a-resume1.log" 2>&1; rc=$?
    check "$a: resuming it as one process is refused in one line (exit $rc)" \
      bash -c "[ $rc != 0 ] && [ \$(grep -c 'error' '$tmp/$a-resume1.log') = 1 ] && grep -q 'built without MPI.*mpirun -np 2' '$tmp/$a-resume1.log'"
    mpi 1 "$build/tunebench-mpi" train --resume "$d/stop" >"$tmp/$a-resume3.log" 2>&1; rc=$?
    check "$a: resuming it under 1 MPI rank is refused, naming the count (exit $rc)" \
      bash -c "[ $rc != 0 ] && grep -q 'not one of 2 MPI ranks; launch it with: mpirun -np 2' '$tmp/$a-resume3.log'"
  fi
  mpi 2 "$build/tunebench-mpi" train --resume "$d/stop" >"$tmp/$a-resume2.log" 2>&1; rc=$?
  check "$a: resumed under 2 ranks (exit $rc)" [ "$rc" = 0 ]
  check "$a: the resumed record is valid and completed" "$tb" check-record --completed "$d/stop.json"
  check "$a: the resumed run is bit-identical to the one never stopped" same "$d/two.json" "$d/stop.json"
done

cfg="--config $tmp/tiny-gpt2.json $light"
d=$tmp/r/tiny-gpt2
mpi 2 -x TUNEBENCH_FAULT_NAN_STEP=3 "$build/tunebench-mpi" train $cfg --ranks 2 --run-id nan >"$tmp/nan.log" 2>&1; rc=$?
check "a loss that is not finite at step 3 on rank 0 ends both ranks with the diverged status (exit $rc; log $tmp/nan.log)" \
  bash -c "[ $rc = 3 ] && grep -q 'non-finite training loss at step 3' '$tmp/nan.log' && ! grep -q 'stopped during a step' '$tmp/nan.log'"
check "... and its record says diverged" grep -Eq '"status":[[:space:]]*"diverged"' "$d/nan.json"

make --no-print-directory BUILD="$build" "$build/mpi/tests/mpi_bootstrap" >"$tmp/bootstrap-build.log" 2>&1
mpi 2 "$build/mpi/tests/mpi_bootstrap" >"$tmp/bootstrap.log" 2>&1; rc=$?
check "the NCCL bootstrap's MPI part on 2 ranks: local ranks, GPUs, rank 0's id (exit $rc; $(tail -n 1 "$tmp/bootstrap.log"))" \
  bash -c "[ $rc = 0 ] && grep -Eq '^mpi_bootstrap: [1-9][0-9]* passed, 0 failed\$' '$tmp/bootstrap.log'"

"$tb" train $cfg --ranks 2 --run-id nompi >"$tmp/nompi.log" 2>&1; rc=$?
check "--ranks 2 in the build without MPI: refused, naming make mpi (exit $rc)" \
  bash -c "[ $rc != 0 ] && grep -q 'built without MPI; build build/tunebench-mpi with .make mpi' '$tmp/nompi.log'"
mpi 2 "$build/tunebench-mpi" train $cfg --run-id noranks >"$tmp/noranks.log" 2>&1; rc=$?
check "2 MPI ranks without --ranks: refused (exit $rc)" \
  bash -c "[ $rc != 0 ] && grep -q 'launched as 2 MPI ranks, but the run has ranks 1' '$tmp/noranks.log'"
mpi 2 "$build/tunebench-mpi" train $cfg --set batch_size=3 --ranks 2 --run-id odd >"$tmp/odd.log" 2>&1; rc=$?
check "a batch of 3 over 2 ranks: refused (exit $rc)" \
  bash -c "[ $rc != 0 ] && grep -q 'batch_size 3 does not split over 2 ranks' '$tmp/odd.log'"

echo "test_dist: $passed passed, $failed failed"
[ "$failed" = 0 ]
