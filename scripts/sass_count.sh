#!/usr/bin/env bash
# sass_count.sh [OUT.json]: the SASS instructions that one thread issues per
# time step in the selective scan's inner loop, forward and backward, for
# sm_80 and sm_90 (make sass-count writes results/bench/sass_scan.json; no GPU
# is needed, only nvcc and nvdisasm).
#
# How it counts. nvcc compiles kernels/cuda/selective_scan_forward.cu and
# selective_scan_backward.cu to one cubin per architecture (ptxas -v gives the
# registers, spills and shared memory) and nvdisasm lists their SASS. In a
# kernel's SASS a loop is a backward branch: the instructions from the label
# it jumps to down to the branch. The time-tile loops are the innermost loops
# that hold at least SCAN_TT MUFU.EX2 (the decays: 4 states x SCAN_TT steps,
# as the walk over a tile is unrolled; the staging and epilogue loops have an
# exp or two for softplus and sigmoid), so one trip of such a loop is one tile. Each instruction of a
# tile loop counts once (NOPs, which only pad, are left out), the loops nested
# in it (staging and epilogue rows: 1 to 4 trips at 4 lanes per channel) once
# as well, so this is a static count, not a trace; divided by SCAN_TT it is
# instructions per thread-step. A backward tile loop without a warp shuffle
# only walks the forward to checkpoint the states entering tiles, and runs for
# all but the last tile of a chunk: it counts (tiles per chunk - 1) / (tiles
# per chunk) at the models' sequence length and chunk (SEQLEN, CHUNK). The
# kernels are the instances for 4 lanes per channel: d_state 9 to 16, every
# model's 16.
#
# nvdisasm comes with the CUDA toolkit; where the toolkit has none (this
# project's machines have nvcc from NVIDIA's wheels), the script installs
# NVIDIA's PyPI wheel for the same CUDA release into build/cuda-tools-venv.
#
# Environment: NVCC ($CUDA_HOME/bin/nvcc), NVCCFLAGS (the build's flags
# without -gencode; make sass-count passes mk/cuda.mk's), ARCHS ("80 90"),
# LPC (4), SEQLEN (256), CHUNK (DEFAULT_SCAN_CHUNK of models/mamba_formats.c).
#
#   sass_count.sh --loops FILE.sass SYMBOL_PART TT NOSHFL_WEIGHT
# prints the tile loops (TT: the exp2 count that makes one) of the first
# kernel whose symbol contains SYMBOL_PART
# in an nvdisasm listing, one line each (first and last address, instructions,
# MUFU.EX2, SHFL, weight), then "per_step X": what tests/test_sass_count.sh
# checks on a listing it writes.
set -euo pipefail
cd "$(dirname "$0")/.."

# tile_loops SYMBOL_PART TT NOSHFL_WEIGHT < LISTING
tile_loops() {
  awk -v want="$1" -v tt="$2" -v w_noshfl="$3" '
    # A section header names the function that the instructions below belong to.
    /^[ \t]*(\/\/-+ |\.section[ \t]+)\.text\./ {
      name = $0; sub(/^.*\.text\./, "", name); sub(/[ ,"].*$/, "", name)
      if (found && name != kernel) exit  # the kernel has ended
      inside = index(name, want) > 0
      if (inside) { found = 1; kernel = name }
      next
    }
    !inside { next }
    /^[ \t]*\.L_x_[0-9]+:/ { lab = $1; sub(/:$/, "", lab); pending[lab] = 1; next }
    /^[ \t]*\/\*[0-9a-f]+\*\// {
      line = $0
      addr = line; sub(/^[ \t]*\/\*/, "", addr); sub(/\*\/.*$/, "", addr)
      body = line; sub(/^[ \t]*\/\*[0-9a-f]+\*\/[ \t]*/, "", body); sub(/[ \t]*;.*$/, "", body)
      gsub(/[{}]/, "", body); sub(/^[ \t]+/, "", body)
      if (body == "") next
      n++
      address[n] = addr
      for (l in pending) { label_at[l] = n; delete pending[l] }
      split(body, tok, /[ \t]+/)
      op = (tok[1] ~ /^@/) ? tok[2] : tok[1]
      opcode[n] = op
      if (op ~ /^BRA/ && match(body, /`\(\.L_x_[0-9]+\)/)) {
        target = substr(body, RSTART + 2, RLENGTH - 3)
        if (target in label_at && label_at[target] <= n) { loops++; lo[loops] = label_at[target]; hi[loops] = n }
      }
      next
    }
    END {
      if (!found) { print "sass_count: no kernel named *" want "* in the listing" > "/dev/stderr"; exit 2 }
      for (i = 1; i <= loops; i++) {
        ex2[i] = shfl[i] = count[i] = 0
        for (k = lo[i]; k <= hi[i]; k++) {
          if (opcode[k] ~ /^NOP/) continue
          count[i]++
          if (opcode[k] ~ /^MUFU\.EX2/) ex2[i]++
          if (opcode[k] ~ /^SHFL/) shfl[i]++
        }
      }
      total = 0; tiles = 0
      for (i = 1; i <= loops; i++) {
        if (ex2[i] < tt) continue
        inner = 0
        for (j = 1; j <= loops; j++)
          if (j != i && ex2[j] >= tt && lo[j] >= lo[i] && hi[j] <= hi[i] && (lo[j] != lo[i] || hi[j] != hi[i])) inner = 1
        if (inner) continue
        w = shfl[i] == 0 ? w_noshfl : 1
        printf "loop %s %s %d %d %d %s\n", address[lo[i]], address[hi[i]], count[i], ex2[i], shfl[i], w
        total += w * count[i] / tt; tiles++
      }
      if (tiles == 0) { print "sass_count: no loop with " tt " MUFU.EX2 in *" want "*" > "/dev/stderr"; exit 2 }
      printf "per_step %.1f\n", total
    }'
}

if [ "${1:-}" = --loops ]; then
  [ $# = 5 ] || { echo "usage: sass_count.sh --loops FILE.sass SYMBOL_PART TT NOSHFL_WEIGHT" >&2; exit 2; }
  tile_loops "$3" "$4" "$5" <"$2"
  exit
fi

out=${1:-results/bench/sass_scan.json}
cuda=${CUDA_HOME:-/usr/local/cuda}
nvcc=${NVCC:-$cuda/bin/nvcc}
flags=${NVCCFLAGS:--O3 -std=c++17 --default-stream per-thread -I.}
archs=${ARCHS:-80 90}
lpc=${LPC:-4}
seqlen=${SEQLEN:-256}
chunk=${CHUNK:-$(sed -n 's/^#define DEFAULT_SCAN_CHUNK \([0-9][0-9]*\).*/\1/p' models/mamba_formats.c)}
tt=$(sed -n 's/^ *SCAN_TT = \([0-9][0-9]*\),.*/\1/p' kernels/cuda/selective_scan.cuh)
command -v "$nvcc" >/dev/null 2>&1 || { echo "sass_count: error: no nvcc at $nvcc (set NVCC or CUDA_HOME)" >&2; exit 1; }
[ -n "$chunk" ] && [ -n "$tt" ] || { echo "sass_count: error: could not read DEFAULT_SCAN_CHUNK or SCAN_TT from the sources" >&2; exit 1; }
release=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)

# The nvdisasm of the toolkit, on PATH, or from the wheel of nvcc's release.
venv=${CUDA_TOOLS_VENV:-$PWD/build/cuda-tools-venv}
find_nvdisasm() {
  local c
  for c in "$cuda/bin/nvdisasm" "$(command -v nvdisasm 2>/dev/null || true)" "$venv"/lib/python3*/site-packages/nvidia/*/bin/nvdisasm; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
if ! nvdisasm=$(find_nvdisasm); then
  # nvcc's release if PyPI has it, else the newest of its major version
  # (nvdisasm reads the cubins of older releases).
  echo "sass_count: installing nvdisasm from PyPI (nvidia-cuda-nvdisasm $release, or ${release%%.*}.x) into $venv" >&2
  mkdir -p "$(dirname "$venv")"
  rm -rf "$venv"
  pip_in() { "$venv/bin/pip" install -q --disable-pip-version-check "$1" >>"$venv.log" 2>&1; }
  if ! /usr/bin/python3 -m venv "$venv" >"$venv.log" 2>&1 ||
     ! { pip_in "nvidia-cuda-nvdisasm==$release.*" || pip_in "nvidia-cuda-nvdisasm==${release%%.*}.*"; }; then
    echo "sass_count: error: could not install nvidia-cuda-nvdisasm into $venv (needs python3-venv and pypi.org); see $venv.log" >&2
    exit 1
  fi
  nvdisasm=$(find_nvdisasm) || { echo "sass_count: error: the wheel holds no nvdisasm under $venv" >&2; exit 1; }
fi

tmp=$(mktemp -d /tmp/tb_sass_count_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tpc=$(( ((chunk < seqlen ? chunk : seqlen) + tt - 1) / tt ))
w_ckpt=$(awk -v t="$tpc" 'BEGIN { printf "%.4f", (t - 1) / t }')

# ptxas_field FILE SYMBOL_PART REGEX: the first number that REGEX's match holds
# in ptxas -v's lines for the kernel.
ptxas_field() {
  awk -v want="$2" -v re="$3" '
    /Compiling entry function/ { inside = index($0, want) > 0; next }
    /Function properties for/ { inside = inside && index($0, want) > 0 }
    inside && match($0, re) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); print s; exit }' "$1"
}

entries=""
for arch in $archs; do
  for dir in forward backward; do
    sym="selective_scan_${dir}_kernelILi${lpc}E"
    cubin=$tmp/${dir}_sm$arch.cubin
    # shellcheck disable=SC2086
    "$nvcc" $flags -gencode "arch=compute_$arch,code=sm_$arch" -Xptxas -v -cubin \
      "kernels/cuda/selective_scan_$dir.cu" -o "$cubin" 2>"$tmp/ptxas_$dir$arch.txt" ||
      { cat "$tmp/ptxas_$dir$arch.txt" >&2; exit 1; }
    "$nvdisasm" "$cubin" >"$tmp/$dir$arch.sass"
    w=1; [ "$dir" = backward ] && w=$w_ckpt
    tile_loops "$sym" "$tt" "$w" <"$tmp/$dir$arch.sass" >"$tmp/loops"
    per_step=$(sed -n 's/^per_step //p' "$tmp/loops")
    loops=$(awk '$1 == "loop" { printf "%s{\"first\": \"0x%s\", \"last\": \"0x%s\", \"instructions\": %d, \"mufu_ex2\": %d, \"shfl\": %d, \"weight\": %s}", n++ ? ", " : "", $2, $3, $4, $5, $6, $7 }' "$tmp/loops")
    regs=$(ptxas_field "$tmp/ptxas_$dir$arch.txt" "$sym" "Used [0-9]+ registers")
    spill=$(ptxas_field "$tmp/ptxas_$dir$arch.txt" "$sym" "[0-9]+ bytes spill stores")
    smem=$(ptxas_field "$tmp/ptxas_$dir$arch.txt" "$sym" "[0-9]+ bytes smem")
    echo "sm_$arch $dir: $per_step SASS instructions per thread-step (${regs:-?} registers, ${spill:-0} bytes spilled, ${smem:-0} bytes shared)"
    entries+="${entries:+,
}    {\"arch\": \"sm_$arch\", \"kernel\": \"$dir\", \"symbol_part\": \"$sym\", \"per_thread_step\": $per_step, \"registers\": ${regs:-null}, \"spill_store_bytes\": ${spill:-0}, \"shared_bytes\": ${smem:-0}, \"tile_loops\": [$loops]}"
  done
done

mkdir -p "$(dirname "$out")"
cat >"$out.tmp" <<EOF
{
  "what": "SASS instructions per thread per time step in the selective scan's time-tile loops (scripts/sass_count.sh)",
  "method": "static count of each innermost loop holding at least SCAN_TT MUFU.EX2 (every instruction once, NOPs excluded, nested loops once), over SCAN_TT steps; a backward loop without SHFL (checkpoint pass) weighted (tiles per chunk - 1) / tiles per chunk",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- kernels/cuda 2>/dev/null || echo '+changes')",
  "nvcc": "$release",
  "nvdisasm": "$("$nvdisasm" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -n 1)",
  "nvcc_flags": "$flags",
  "lanes_per_channel": $lpc,
  "tile_steps": $tt,
  "seqlen": $seqlen,
  "chunk": $chunk,
  "tiles_per_chunk": $tpc,
  "kernels": [
$entries
  ]
}
EOF
mv "$out.tmp" "$out"
echo "sass_count: wrote $out"
