#!/usr/bin/env bash
# test_sass_count.sh: scripts/sass_count.sh's loop count (--loops) on an
# nvdisasm listing written here, laid out as nvdisasm lays out the scan
# kernels: which loops are time-tile loops (innermost with at least TT
# MUFU.EX2; a nested loop's softplus exp does not make one), that
# nested loops, predicates, dual-issue braces and labels are read, NOPs left
# out, the other kernels of the listing ignored, and the backward's loop
# without a shuffle weighted. (make sass-count runs the whole script on the
# real build: it needs nvcc and nvdisasm, and is not part of make test.)
set -u
cd "$(dirname "$0")/.."
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_sass_count: $what"; fi
}
tmp=$(mktemp -d /tmp/tb_test_sass_XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ins ADDR TEXT: one instruction line as nvdisasm prints it.
ins() { printf '        /*%04x*/                   %s ;\n' "$1" "$2"; }
{
  echo '//--------------------- .text._Z5otherv --------------------------'
  echo '        .section        .text._Z5otherv,"ax",@progbits'
  echo '.L_x_0:'
  ins 0x00 'MUFU.EX2 R1, R2'
  ins 0x10 'BRA `(.L_x_0)'
  echo '//--------------------- .text._Z3fwdILi4EEv --------------------------'
  echo '        .section        .text._Z3fwdILi4EEv,"ax",@progbits'
  ins 0x00 'S2R R0, SR_TID.X'
  echo '.L_x_1:'                                 # the tile loop: 0x10 .. 0xb0
  ins 0x10 'LDS R4, [R3]'
  ins 0x20 'MUFU.EX2 R5, R4'
  ins 0x30 '{ FFMA R6, R5, R6, R7'
  ins 0x40 '  MUFU.EX2 R8, R4 }'
  echo '.L_x_2:'                                 # a nested row loop: 0x50 .. 0x70
  ins 0x50 'STG.E [R10.64], R6'
  ins 0x60 'MUFU.EX2 R9, R9'
  ins 0x70 '@P0 BRA `(.L_x_2)'
  ins 0x80 'SHFL.BFLY PT, R11, R6, 0x1, 0x1f'
  ins 0x90 'NOP'
  ins 0xa0 'ISETP.GE.AND P1, PT, R9, R12, PT'
  ins 0xb0 '@!P1 BRA `(.L_x_1)'
  ins 0xc0 'EXIT'
  echo '.L_x_3:'
  ins 0xd0 'BRA `(.L_x_3)'
  ins 0xe0 'NOP'
  echo '//--------------------- .text._Z3bwdILi4EEv --------------------------'
  echo '        .section        .text._Z3bwdILi4EEv,"ax",@progbits'
  echo '.L_x_4:'                                 # the chunk loop around both tile loops
  echo '.L_x_5:'                                 # a checkpoint pass: 0x00 .. 0x20, no shuffle
  ins 0x00 'MUFU.EX2 R1, R2'
  ins 0x10 'MUFU.EX2 R3, R4'
  ins 0x20 '@P0 BRA `(.L_x_5)'
  echo '.L_x_6:'                                 # the reverse tile loop: 0x30 .. 0x70
  ins 0x30 'MUFU.EX2 R1, R2'
  ins 0x40 'SHFL.BFLY PT, R5, R6, 0x10, 0x1f'
  ins 0x50 'SHFL.BFLY PT, R7, R8, 0x8, 0x1f'
  ins 0x60 'MUFU.EX2 R9, R2'
  ins 0x70 '@P1 BRA `(.L_x_6)'
  ins 0x80 '@P2 BRA `(.L_x_4)'
  ins 0x90 'EXIT'
} >"$tmp/listing.sass"

# Every line of the answer, compared whole: a loop's first and last
# address, instructions, MUFU.EX2, SHFL, weight; then the per-step total.
# TT = 2 here: a loop needs 2 MUFU.EX2 to be a tile loop.
fwd=$(bash scripts/sass_count.sh --loops "$tmp/listing.sass" fwdILi4E 2 0.75 2>&1)
check "forward: the tile loop 0x10..0xb0 (not its nested loop with one exp), 10 instructions without its NOP, the nested loop once, 3 EX2, 1 SHFL, weight 1; 10 / 2 steps (got: $fwd)" \
  [ "$fwd" = "$(printf 'loop 0010 00b0 10 3 1 1\nper_step 5.0')" ]
bwd=$(bash scripts/sass_count.sh --loops "$tmp/listing.sass" bwdILi4E 2 0.75 2>&1)
check "backward: the shuffle-free loop weighted 0.75, the chunk loop around both left out: (0.75 x 3 + 5) / 2 (got: $bwd)" \
  [ "$bwd" = "$(printf 'loop 0000 0020 3 2 0 0.75\nloop 0030 0070 5 2 2 1\nper_step 3.6')" ]
out=$(bash scripts/sass_count.sh --loops "$tmp/listing.sass" nosuchkernel 2 1 2>&1); rc=$?
check "a kernel not in the listing is an error that names it (rc $rc: $out)" \
  [ "$rc" != 0 -a -n "$(printf '%s' "$out" | grep 'no kernel named \*nosuchkernel\*')" ]
printf '        .section        .text._Z1kv,"ax",@progbits\n' >"$tmp/flat.sass"
ins 0x00 'FADD R1, R2, R3' >>"$tmp/flat.sass"
ins 0x10 'EXIT' >>"$tmp/flat.sass"
out=$(bash scripts/sass_count.sh --loops "$tmp/flat.sass" _Z1kv 2 1 2>&1); rc=$?
check "a kernel without an exp2 loop is an error (rc $rc: $out)" \
  [ "$rc" != 0 -a -n "$(printf '%s' "$out" | grep 'no loop with 2 MUFU.EX2')" ]

echo "test_sass_count: $passed passed, $failed failed"
[ "$failed" = 0 ]
