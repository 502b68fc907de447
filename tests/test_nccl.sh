#!/usr/bin/env bash
# test_nccl.sh: build/tunebench-nccl (make nccl, mk/nccl.mk), data-parallel
# training with a GPU per MPI rank and NCCL's collectives (src/runner/dist.h).
# Without a GPU: dist.c and dist_nccl.c compile against nccl.h with no
# warning and the binary links NCCL, MPI and the CUDA runtime, with NCCL's
# bootstrap and collectives among its symbols; under mpirun on 2 CPU ranks
# (--backend cpu, the MPI transport) it trains to the bits of
# build/tunebench-mpi; a cuda run where no GPU shows stops in one line and
# releases the other rank. With 2 GPUs or more (nvidia-smi -L) the NCCL
# transport runs: 2 ranks match one GPU process at the same global batch
# within 1e-5 and two 2-rank runs are bit-identical. Skipped, saying why,
# without nvcc, MPI or NCCL (bash scripts/deps.sh nccl installs it).
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
bin=$build/tunebench-nccl
passed=0; failed=0; skipped=0
skip() { echo "SKIP test_nccl: $1"; skipped=$((skipped + 1)); }
nvcc=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
if printf '%s' "${MAKEFLAGS:-}" | grep -q fsanitize; then
  why="the sanitizer build compiles no nvcc binaries (make test checks build/tunebench-nccl)"
elif [ ! -x "$nvcc" ]; then why="no nvcc at $nvcc (the CUDA toolkit compiles build/tunebench-nccl)"
elif ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then
  why="OpenMPI is not installed (scripts/deps.sh build installs it)"
elif ! nccl=$(bash scripts/nccl_home.sh); then why="NCCL is not installed (bash scripts/deps.sh nccl installs it from PyPI)"
else why=""; fi
if [ -n "$why" ]; then
  skip "$why"
  echo "test_nccl: 0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(mktemp -d /tmp/tb_test_nccl_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_nccl: $what"; tail -n 5 "$tmp/checks.log"; fi
}

# The NCCL objects are compiled again here, so that their warnings show in
# this log; the CUDA library is whatever `make cuda` left (CI builds it
# first; here it is made if missing, which takes minutes).
rm -f "$build"/nccl/src/runner/dist.o "$build"/nccl/src/runner/dist_nccl.o "$bin"
make --no-print-directory BUILD="$build" "$build/tunebench-mpi" "$build/tunebench-cuda" "$bin" >"$tmp/build.log" 2>&1; rc=$?
check "make $bin (exit $rc; log $tmp/build.log, NCCL: $nccl)" bash -c "[ $rc = 0 ] && [ -x '$bin' ]"
# The compilers' warnings (make's own lines, such as a sub-make's jobserver
# notice, are not the code's).
warnings=$(grep -i 'warning' "$tmp/build.log" | grep -vE '^make(\[[0-9]+\])?: ')
check "dist.c and dist_nccl.c compiled and linked with no warning (${warnings:-none})" \
  bash -c "grep -q 'MPICC $build/nccl/src/runner/dist_nccl.o' '$tmp/build.log' && [ -z '$warnings' ]"
check "the binary needs libnccl.so.2, MPI and the CUDA runtime" \
  bash -c "readelf -d '$bin' | grep -q 'libnccl.so.2' && readelf -d '$bin' | grep -q 'libmpi' && readelf -d '$bin' | grep -q 'libcudart'"
check "it calls NCCL's bootstrap and collectives" \
  bash -c "nm -u '$bin' | grep -q ncclCommInitRank && nm -u '$bin' | grep -q ncclGetUniqueId && nm -u '$bin' | grep -q ncclReduce && nm -u '$bin' | grep -q ncclBroadcast"

. tests/dist_common.sh
tiny_config gpt2
cfg="--config $tmp/tiny-gpt2.json $light"
d=$tmp/r/tiny-gpt2
mpi 2 "$build/tunebench-mpi" train $cfg --ranks 2 --run-id mpi >"$tmp/mpi.log" 2>&1
mpi 2 "$bin" train $cfg --backend cpu --ranks 2 --run-id cpu >"$tmp/cpu.log" 2>&1; rc=$?
check "2 CPU ranks of $bin complete (exit $rc; log $tmp/cpu.log)" [ "$rc" = 0 ]
check "... to the bits of $build/tunebench-mpi" same "$d/mpi.json" "$d/cpu.json"
check "... over the MPI transport (the record says so)" grep -Eq '"transport":[[:space:]]*"mpi"' "$d/cpu.json"

gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "$gpus" = 0 ] && [ ! -e /dev/nvidia0 ]; then
  mpi 2 "$bin" train $cfg --backend cuda --ranks 2 --run-id nogpu >"$tmp/nogpu.log" 2>&1; rc=$?
  check "--backend cuda without a GPU: both ranks stop, rank 0 says so in one line (exit $rc; log $tmp/nogpu.log)" \
    bash -c "[ $rc != 0 ] && [ $rc != 124 ] && [ \$(grep -c 'tunebench: error' '$tmp/nogpu.log') = 1 ] && grep -q 'needs a GPU' '$tmp/nogpu.log'"
else
  skip "a GPU is present, so the no-GPU refusal is not tried"
fi

if [ "$gpus" -ge 2 ]; then
  "$build/tunebench-cuda" train $cfg --backend cuda --run-id gpu1 >"$tmp/gpu1.log" 2>&1
  mpi 2 "$bin" train $cfg --backend cuda --ranks 2 --run-id gpu2 >"$tmp/gpu2.log" 2>&1; rc=$?
  check "2 GPU ranks over NCCL complete (exit $rc; log $tmp/gpu2.log)" [ "$rc" = 0 ]
  check "... and the record names NCCL and its version" \
    bash -c "grep -Eq '\"transport\":[[:space:]]*\"nccl\"' '$d/gpu2.json' && grep -Eq '\"nccl_version\":[[:space:]]*\"[0-9]+[.]' '$d/gpu2.json'"
  check "... the loss curve of 1 GPU process at the same global batch" close train_loss "$d/gpu1.json" "$d/gpu2.json"
  check "... and its gradient norms" close grad_norm "$d/gpu1.json" "$d/gpu2.json"
  mpi 2 "$bin" train $cfg --backend cuda --ranks 2 --run-id gpu2b >"$tmp/gpu2b.log" 2>&1
  check "two 2-rank NCCL runs are bit-identical" same "$d/gpu2.json" "$d/gpu2b.json"
else
  skip "the NCCL transport needs 2 GPUs (nvidia-smi -L lists $gpus): compiled here, not run"
fi

if [ "$skipped" -gt 0 ]; then echo "test_nccl: $passed passed, $failed failed, $skipped skipped"
else echo "test_nccl: $passed passed, $failed failed"; fi
[ "$failed" = 0 ]
