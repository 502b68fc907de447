#!/usr/bin/env bash
# nccl_home.sh [--install]: prints "INCLUDE_DIR LIBRARY" of the NCCL that
# build/tunebench-nccl compiles and links against (mk/nccl.mk): the folder of
# nccl.h and the path of libnccl.so.2, from the first of
#   $NCCL_HOME               include/ and lib/ or lib64/
#   $CUDA_HOME               (/usr/local/cuda) NVIDIA's packages put NCCL beside the toolkit
#   /usr                     Debian's and Ubuntu's libnccl-dev (non-free; not in bookworm main)
#   build/nccl-venv          NVIDIA's PyPI wheel, nvidia-nccl-cu<the toolkit's CUDA major>
# that has both. Prints nothing and exits 1 when none has. With --install,
# a missing NCCL is installed first: the wheel, into a venv over Debian's
# python3 (`scripts/deps.sh nccl` installs python3-venv, then runs this).
# NCCL_VENV=DIR puts that venv elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=${CUDA_HOME:-/usr/local/cuda}
venv=${NCCL_VENV:-$PWD/build/nccl-venv}

# try INCLUDE_DIR LIB_DIR...: prints and succeeds when nccl.h and libnccl.so.2 are there.
try() {
  local inc=$1; shift
  [ -f "$inc/nccl.h" ] || return 1
  for lib in "$@"; do
    if [ -e "$lib/libnccl.so.2" ]; then echo "$inc $lib/libnccl.so.2"; return 0; fi
  done
  return 1
}
find_nccl() {
  if [ -n "${NCCL_HOME:-}" ]; then try "$NCCL_HOME/include" "$NCCL_HOME/lib" "$NCCL_HOME/lib64" && return 0; fi
  try "$cuda/include" "$cuda/lib64" "$cuda/lib" && return 0
  try /usr/include "/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" && return 0
  for site in "$venv"/lib/python3*/site-packages/nvidia/nccl; do
    if [ -d "$site" ]; then try "$site/include" "$site/lib" && return 0; fi
  done
  return 1
}

if find_nccl; then exit 0; fi
[ "${1:-}" = --install ] || exit 1

nvcc=$cuda/bin/nvcc
command -v "$nvcc" >/dev/null 2>&1 || nvcc=nvcc
major=$("$nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
if [ -z "$major" ]; then
  echo "nccl_home: error: no nvcc at $cuda/bin or on PATH to say which CUDA NCCL must match; set CUDA_HOME" >&2
  exit 1
fi
wheel="nvidia-nccl-cu$major"
echo "nccl_home: installing NCCL from PyPI ($wheel, for CUDA $major) into $venv" >&2
mkdir -p "$(dirname "$venv")"
rm -rf "$venv"
if ! /usr/bin/python3 -m venv "$venv" >"$venv.log" 2>&1 ||
   ! "$venv/bin/pip" install -q --disable-pip-version-check "$wheel" >>"$venv.log" 2>&1; then
  echo "nccl_home: error: could not install $wheel from PyPI into $venv (needs pypi.org); see $venv.log" >&2
  rm -rf "$venv"
  exit 1
fi
find_nccl || { echo "nccl_home: error: $wheel installed, but $venv holds no nccl.h and libnccl.so.2" >&2; exit 1; }
