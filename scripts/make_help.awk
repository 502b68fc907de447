# make_help.awk: `make help`, from the `##` comment lines of the Makefile and
# mk/*.mk (the convention is described at the top of the Makefile):
#   ##@ Group        the group of the lines that follow, in this file
#   ## target  text  one target and what it does
#   ## pre-WORD text a family of targets: WORD (capitals) stands for each name
#                    of the list in the environment variable HELP_<target,
#                    with - as _> (HELP_exp_NAME for exp-NAME), which help
#                    prints below the line ("NAME: gpt2-6m ...")
# Groups print in the order they first appear; each file starts without one.
FNR == 1 { group = "" }
/^##@ / {
  group = substr($0, 5)
  if (!(group in seen)) { seen[group] = 1; order[++groups] = group }
  next
}
/^## / {
  name = substr($0, 4); sub(/[ \t].*$/, "", name)
  text = substr($0, 4); sub(/^[^ \t]+[ \t]*/, "", text)
  if (group == "" || text == "") {
    printf "%s:%d: a ## line needs a ##@ group above it and a text after its target\n", FILENAME, FNR > "/dev/stderr"
    bad = 1
  }
  body[group] = body[group] sprintf("  make %-20s %s\n", name, text)
  if (match(name, /[A-Z][A-Z0-9_]*/)) {
    word = substr(name, RSTART, RLENGTH)
    var = "HELP_" name; gsub(/[^A-Za-z0-9_]/, "_", var)
    list = ENVIRON[var]; gsub(/[ \t]+/, " ", list); sub(/^ /, "", list); sub(/ $/, "", list)
    if (list == "") {
      printf "%s:%d: %s stands for a list, but %s is empty: export it to help (help: export %s = ...)\n", FILENAME, FNR, word, var, var > "/dev/stderr"
      bad = 1
    }
    body[group] = body[group] sprintf("  %-25s %s: %s\n", "", word, list)
  }
}
END {
  print "make TARGET [VAR=value ...]; V=1 shows the full compiler commands"
  for (i = 1; i <= groups; i++)
    if (order[i] in body) printf "\n%s\n%s", order[i], body[order[i]]
  exit bad
}
