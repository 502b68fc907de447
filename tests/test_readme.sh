#!/usr/bin/env bash
# test_readme.sh: the commands README.md names exist. Every `make TARGET` in
# its code (inline spans, indented blocks, fenced blocks; comments after '#'
# left out) is a target `make help` lists, a placeholder such as exp-NAME or
# bench-<arch> one of its families; every `tunebench CMD ... --flag` names a
# command whose `tunebench CMD --help` (with a subcommand, `CMD SUB --help`
# too) exits 0 and shows that flag.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
passed=0; failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_readme: $what"; fi
}

# readme_commands FILE: one line per command found in FILE's code:
#   make TARGET                        each target of a make command
#   tunebench CMD SUB --flag ...       a tunebench command, SUB '-' if none
readme_commands() {
  perl -e '
    local $/; my $t = <STDIN>; my @code;
    while ($t =~ /^```[^\n]*\n(.*?)^```/msg) { push @code, split /\n/, $1 }
    $t =~ s/^```[^\n]*\n.*?^```//msg;
    my @prose;
    for (split /\n/, $t) { if (/^    (\S.*)$/) { push @code, $1 } else { push @prose, $_ } }
    my $p = join "\n", @prose;
    while ($p =~ /`([^`]+)`/g) { (my $s = $1) =~ s/\s+/ /g; push @code, $s }
    for my $c (@code) {
      $c =~ s/(^|\s)#(\s.*)?$//;
      $c =~ s/"[^"]*"|\x27[^\x27]*\x27/Q/g;  # a quoted value is one word
      for my $seg (split /;|&&|\|\|/, $c) {
        my @w = split " ", $seg;
        for my $i (0 .. $#w) {
          if ($w[$i] eq "make") {
            for my $x (@w[$i + 1 .. $#w]) {
              next if $x =~ /^-|=/;
              last unless $x =~ /^[a-z][A-Za-z0-9_<>.-]*$/;
              print "make $x\n";
            }
          }
          if ($w[$i] =~ m{^(\S*/)?tunebench(-cuda|-mpi|-nccl)?$} && $i < $#w && $w[$i + 1] =~ /^[a-z][a-z-]*$/) {
            my $sub = ($i + 2 <= $#w && $w[$i + 2] =~ /^[a-z]+$/) ? $w[$i + 2] : "-";
            my %seen; my @flags = grep { !$seen{$_}++ } join(" ", @w[$i + 2 .. $#w]) =~ /(?<![\w-])(--[a-z][a-z0-9-]*)/g;
            print join(" ", "tunebench", $w[$i + 1], $sub, @flags), "\n";
          }
        }
      }
    }' <"$1" | sort -u
}

found=$(readme_commands README.md)
check "README.md names make targets and tunebench commands (found: $(printf '%s\n' "$found" | wc -l))" \
  [ "$(printf '%s\n' "$found" | grep -c '^make ')" -ge 10 ] && [ "$(printf '%s\n' "$found" | grep -c '^tunebench ')" -ge 10 ]

help=$(make --no-print-directory -s help 2>&1)
listed=$(printf '%s\n' "$help" | awk -f tests/help_targets.awk)
# A pattern line of make help (exp-NAME) as a regular expression: exp-[A-Z]...
families=$(printf '%s\n' "$help" | awk '/^  make / && $2 ~ /[A-Z]/ { print $2 }')
is_target() {  # is_target TARGET: make help lists it (a placeholder: a family with the same prefix)
  local t=$1 f
  case $t in
    *[A-Z]* | *'<'*)
      local prefix=${t%%[A-Z<]*}
      for f in $families; do [ "${f%%[A-Z]*}" = "$prefix" ] && return 0; done
      return 1 ;;
    *) grep -qx -- "$t" <<<"$listed" ;;
  esac
}
while read -r _ target; do
  check "README.md names 'make $target', which make help does not list" is_target "$target"
done < <(printf '%s\n' "$found" | grep '^make ')

while read -r _ cmd sub flags; do
  usage=$("$build/tunebench" "$cmd" --help 2>&1); rc=$?
  check "README.md names 'tunebench $cmd', whose --help fails (rc $rc: $(printf '%s' "$usage" | head -n 1))" [ "$rc" = 0 ]
  [ "$sub" != - ] && usage+=$'\n'$("$build/tunebench" "$cmd" "$sub" --help 2>&1)
  for flag in $flags; do
    [ "$flag" = --help ] && continue
    check "README.md gives 'tunebench $cmd $flag', which 'tunebench $cmd${sub/#-/} --help' does not show" \
      grep -qE -- "$flag([^a-z0-9-]|\$)" <<<"$usage"
  done
done < <(printf '%s\n' "$found" | grep '^tunebench ')

# The reader finds what is wrong: a made-up target, command and flag fail.
tmp=$(mktemp -d /tmp/tb_test_readme_XXXXXX)
printf 'Run `make no-such-target X="a b"` or\n\n    tunebench train --no-such-flag 3   # make comment-only\n' >"$tmp/README.md"
fake=$(readme_commands "$tmp/README.md")
check "a span and an indented line are read, comments are not (got: $fake)" \
  [ "$fake" = "$(printf 'make no-such-target\ntunebench train - --no-such-flag')" ]
check "a target make help does not list is caught" bash -c '! grep -qx no-such-target <<<"$0"' "$listed"
check "a flag --help does not show is caught" \
  bash -c '! "$0/tunebench" train --help 2>&1 | grep -qE -- "--no-such-flag([^a-z0-9-]|$)"' "$build"
rm -rf "$tmp"

echo "test_readme: $passed passed, $failed failed"
[ "$failed" = 0 ]
