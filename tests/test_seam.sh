#!/usr/bin/env bash
# test_seam.sh: the seam between the models and everything else, and the
# direction of the folder arrows (README "Layout").
# - Outside models/ (and the tests), no code compares an architecture's name:
#   the runner, checkpoints, benchmarks, generation, plots and tables ask the
#   model or its registry entry (models/architectures.def lists them).
# - Every registered architecture has its experiments at both sizes.
# - Every #include points down: src/ (the CLI) and the tools -> models/, data/
#   -> kernels/ -> lib/, and lib/ includes nothing of the project; emu/ (the
#   SIMT emulation the tests build the CUDA kernels against) includes only
#   itself.
# - kernels/ops.def is the only list of the backend's functions.
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_seam: $what"; fi
}
none() { [ -z "$1" ]; }
registered() { printf '%s\n' $archs | grep -qx "$1"; }

archs=$(sed -n 's/^ARCH(\([a-z0-9_]*\))$/\1/p' models/architectures.def)
check "models/architectures.def lists at least two architectures (a seam needs two sides)" \
  [ "$(printf '%s\n' $archs | wc -l)" -ge 2 ]
# Each architecture is everywhere the others are: its experiments at both
# sizes (make exp-ARCH-6m, exp-ARCH-60m, reference, plots, tables), each naming
# one of its own configs; and every experiment names a registered one.
for a in $archs; do
  for size in 6m 60m; do
    f=experiments/$a-$size.json
    check "$f exists and trains $a-$size" grep -qE "\"model\":[[:space:]]*\"$a-$size\"" "$f"
  done
done
for f in experiments/*.json; do
  model=$(sed -nE 's/.*"model":[[:space:]]*"([^"]*)".*/\1/p' "$f" | head -n 1)
  check "$f: its model '$model' belongs to a registered architecture" registered "${model%-*}"
done
code="lib src data kernels bench plots paper"
sources() { find "$@" -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.cpp' -o -name '*.gp'; }
# name_checks ARCH DIR...: the lines that name ARCH as a name check does: a
# string literal that is exactly the name ("mamba"), or a comparison with a
# name prefix ("mamba-").
name_checks() {
  local a=$1; shift
  sources "$@" | xargs grep -nE "\"$a\"|(strn?cmp|tb_streq)\([^;]*\"$a-" 2>/dev/null
}
for a in $archs; do
  hits=$(name_checks "$a" $code)
  check "no code outside models/ names the architecture '$a': ${hits:-}" none "$hits"
done

# The folders each one may include from (its own, and those below it).
allowed() {
  case $1 in
    lib) echo "lib" ;;
    kernels) echo "kernels lib" ;;
    data) echo "data lib" ;;
    models) echo "models kernels lib" ;;
    emu) echo "emu" ;;
    *) echo "src models data kernels lib plots" ;;
  esac
}
# upward_includes DIR ALLOWED: DIR's includes that resolve outside ALLOWED.
upward_includes() {
  local dir=$1 ok=$2 bad="" line file target path
  while IFS= read -r line; do
    file=${line%%:*}; target=$(printf '%s' "$line" | sed -E 's/.*#include "([^"]+)".*/\1/')
    # Resolve the include as the compiler does: beside the file, else from the root.
    if [ -f "$(dirname "$file")/$target" ]; then path=$(realpath --relative-to=. "$(dirname "$file")/$target")
    else path=$target; fi
    case " $ok " in *" ${path%%/*} "*) ;; *) bad+=" $file->$path" ;; esac
  done < <(grep -rnE '#include "[^"]+"' "$dir" --include='*.c' --include='*.h' --include='*.cu' --include='*.cuh' --include='*.cpp' | sed -E 's/^([^:]*):[0-9]+:/\1:/')
  printf '%s' "$bad"
}
for dir in lib kernels data models emu; do
  bad=$(upward_includes $dir "$(allowed $dir)")
  check "$dir/ includes only from: $(allowed $dir) (found:${bad:- none})" none "$bad"
done

# kernels/ops.def is the only list of the backend's functions: no other file
# declares one as a Backend field (`(*linear_forward)(`), fills one into a
# table (`.linear_forward = `) or declares a backend's version of one in a
# header (`void linear_forward_cuda(`). tests/host_backend.h, a partial test
# table of host functions, is the one exception.
ops=$(sed -nE 's/^OP\([A-Z]+, *[a-z_]+, *([a-z0-9_]+),.*/\1/p' kernels/ops.def | paste -sd'|')
op_lists() {
  sources "$@" | grep -v '^tests/host_backend.h$' | xargs grep -nE \
    "\(\*($ops)\)[[:space:]]*\(|^[[:space:]]*\.($ops)[[:space:]]*=" 2>/dev/null
  sources "$@" | grep -E '\.(h|cuh)$' | xargs grep -nE \
    "^(void|double|size_t)[[:space:]*]+($ops)_(cpu|cuda)[[:space:]]*\(" 2>/dev/null
}
check "kernels/ops.def lists at least 30 functions" [ "$(printf '%s' "$ops" | tr '|' '\n' | wc -l)" -ge 30 ]
hits=$(op_lists $code models tests)
check "kernels/ops.def is the only list of the backend's functions (found: ${hits:-none})" none "$hits"

# No code outside kernels/ names a backend: it asks the backend (on_host,
# describe, set_threads) and takes the default from BACKEND_DEFAULT_NAME. A
# string literal "cpu" or "cuda", or a comparison of a backend's name, in
# code (comments aside), or a make function choosing by BACKEND's value.
backend_names() {
  sources "$@" | xargs grep -nE '"(cpu|cuda)"|(strn?cmp|tb_streq)\([^;]*(be|backend)->name' 2>/dev/null |
    grep -vE '^[^:]*:[0-9]+:[[:space:]]*//' | sed -E 's|//.*||' | grep -E '"(cpu|cuda)"|->name'
  find "$@" -name '*.mk' 2>/dev/null | grep -v '^mk/cuda.mk$' |
    xargs -r grep -nE '\$\((filter|filter-out|findstring|if)[^)]*\b(cpu|cuda)\b|if(n)?eq[^#]*\b(cpu|cuda)\b'
}
hits=$(backend_names lib src data bench plots paper models mk)
check "no code outside kernels/ names a backend (found: ${hits:-none})" none "$hits"

# The SIMT emulation (emu/) is apart from the production kernels, and its
# calls run one way: the stream (simt_stream.cpp) calls nothing else of it.
emu_in_kernels=$(find kernels -name 'simt*')
check "the SIMT emulation lives in emu/, not kernels/ (found: ${emu_in_kernels:-none})" \
  none "$emu_in_kernels"
# Kernels declare shared memory through SHARED / DYNAMIC_SHARED
# (kernels/cuda/cuda_common.cuh), which the emulation poisons at every block
# start; a bare __shared__ would escape that.
bare_shared=$(grep -nE '^[^/]*__shared__' kernels/cuda/*.cu tests/simt/*.cu 2>/dev/null)
check "kernels declare shared memory with SHARED or DYNAMIC_SHARED (bare: ${bare_shared:-none})" \
  none "$bare_shared"
stream_uses=$(grep -oE '#include "[^"]+"' emu/simt_stream.cpp | grep -vE '"simt_stream.h"|"simt_emu_api.h"')
check "emu/simt_stream.cpp calls nothing else of the emulation (includes:${stream_uses:- none})" \
  none "$stream_uses"

# The checks themselves: a planted name check and a planted upward include
# (in a scratch folder inside kernels/'s view of the tree) are found.
first=$(printf '%s\n' $archs | head -n 1)
tmp=$(mktemp -d ./kernels/.tb_seam_XXXXXX)
printf 'int f(const char *a) { return tb_streq(a, "%s"); }\n' "$first" >"$tmp/x.c"
printf '#include "../../src/runner/config.h"\n' >"$tmp/y.c"
check "a planted architecture check is caught" [ -n "$(name_checks "$first" "$tmp")" ]
printf 'struct X { void (*gelu_forward)(float *o, const float *i, size_t n); };\n' >"$tmp/z.h"
check "a planted list of ops is caught" [ -n "$(op_lists "$tmp")" ]
printf 'void gelu_forward_cuda(float *o, const float *i, size_t n);\n' >"$tmp/z.h"
check "a planted prototype of an op is caught" [ -n "$(op_lists "$tmp")" ]
printf 'int g(const Backend *be) { return tb_streq(be->name, "cuda"); }\n' >"$tmp/w.c"
check "a planted backend name check is caught" [ -n "$(backend_names "$tmp")" ]
check "a planted upward include is caught" [ -n "$(upward_includes "$tmp" "kernels lib")" ]
rm -rf "$tmp"

echo "test_seam: $passed passed, $failed failed"
[ "$failed" = 0 ]
