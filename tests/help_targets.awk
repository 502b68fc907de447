# help_targets.awk < HELP: the targets a `make help` text names, one a line:
# each plain `  make target` line, and for a pattern line (a capitalised WORD
# in its target) the target with WORD replaced by each name of the list line
# below it. A pattern line without its list stays as it is (so it matches
# nothing). Used by tests/test_make_help.sh and tests/test_readme.sh.
function flush() { if (pending != "") print pending; pending = "" }
/^  make / { flush(); if ($2 ~ /[A-Z]/) pending = $2; else print $2; next }
/^ +[A-Z][A-Z0-9_]*: / && pending != "" {
  word = $1; sub(/:$/, "", word)
  if (index(pending, word) == 0) next
  for (i = 2; i <= NF; i++) { t = pending; sub(word, $i, t); print t }
  pending = ""; next
}
END { flush() }
