#!/usr/bin/env bash
# Installs the Debian packages tunebench needs that are missing, and nothing
# else. `deps.sh build` covers compiling and `make test`; `deps.sh all` adds
# what experiments, plots and the paper use; `deps.sh NAME...` installs a group
# (fuzz: clang and libFuzzer for `make fuzz`, kept apart as they are large).
# OpenMPI is in `build` (35 small packages, about 6 s: make test runs a
# 2-rank training); Slurm is a group of its own, `slurm` (about 6 s too, but
# it installs daemons a workstation does not want): .ci/run installs it so
# that tests/test_slurm.sh runs, and without it that test says it is skipped.
# `nccl` is NCCL for build/tunebench-nccl (make nccl): Debian bookworm main
# has no libnccl-dev, so scripts/nccl_home.sh installs NVIDIA's PyPI wheel
# into a venv (python3-venv) when it finds no NCCL installed.
set -euo pipefail

group_build="build-essential libopenblas-dev libcjson-dev libcurl4-openssl-dev unzip"
group_test="abcmidi gnuplot-nox"
group_paper="texlive-latex-base texlive-latex-recommended"  # paper.tex needs nothing from -extra
group_samples="abcmidi abcm2ps fluidsynth fluid-soundfont-gm lame chromium"
group_torch="python3-torch"
group_fuzz="clang libclang-rt-dev libomp-dev"  # make fuzz: libFuzzer and the sanitizers' runtimes
group_mpi="openmpi-bin libopenmpi-dev"
group_slurm="slurm-wlm munge"
group_ecosystem="python3-torch python3-venv"  # make test-ecosystem: a venv over Debian's torch
group_venv="python3-venv"  # make sass-count: nvdisasm from PyPI into a venv, where the toolkit has none

packages=""
nccl=0
for g in "${@:-build}"; do
  case "$g" in
    build)   packages+=" $group_build $group_test $group_mpi" ;;
    all)     packages+=" $group_build $group_test $group_mpi $group_slurm" ;;
    paper)   packages+=" $group_paper" ;;
    samples) packages+=" $group_samples" ;;
    torch)   packages+=" $group_torch" ;;
    slurm)   packages+=" $group_slurm" ;;
    ecosystem) packages+=" $group_ecosystem" ;;
    venv)    packages+=" $group_venv" ;;
    fuzz)    packages+=" $group_build $group_fuzz" ;;
    nccl)    if ! bash "$(dirname "$0")/nccl_home.sh" >/dev/null; then packages+=" python3-venv"; nccl=1; fi ;;
    *) echo "deps.sh: unknown group '$g' (use build, all, paper, samples, torch, slurm, ecosystem, venv, fuzz or nccl)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *"install ok installed"*) ;; *) missing+=" $p" ;; esac
done
# After the Debian packages: NCCL's wheel needs python3-venv.
install_nccl() { [ "$nccl" = 0 ] || bash "$(dirname "$0")/nccl_home.sh" --install >/dev/null; }
if [ -z "$missing" ]; then install_nccl; exit 0; fi

echo "tunebench: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "tunebench: error: these packages are missing and this user cannot install them: run 'apt-get install$missing' as root" >&2
    exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/tmp/tunebench-apt.log 2>&1; then
  $SUDO apt-get update -qq >/tmp/tunebench-apt.log 2>&1 || true
  if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >>/tmp/tunebench-apt.log 2>&1; then
    echo "tunebench: error: apt-get could not install$missing; see /tmp/tunebench-apt.log" >&2
    exit 1
  fi
fi
echo "tunebench: installed$missing"
install_nccl
