#!/usr/bin/env bash
# test_exit_codes.sh: lib/command.h's convention, held by every command that
# reads its arguments with its option parser (tunebench's commands but train
# and sweep, and plot_data, make_tables): 0 for --help, 2 for a usage error,
# 1 for a runtime error such as an unknown backend or model; a runtime error
# is one line on stderr.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
bin=$build/tunebench
tmp=$(mktemp -d /tmp/tb_test_exit_codes_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
# exits CODE DESCRIPTION COMMAND...: COMMAND exits CODE; a runtime error
# printed exactly one line on stderr, a usage error at least one (the usage).
exits() {
  local want=$1 what=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" = "$want" ] && case $want in 0) true ;; 1) [ "$lines" = 1 ] ;; *) [ "$lines" -ge 1 ] ;; esac; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_exit_codes: $what: exit $rc (want $want), $lines stderr lines"
    head -n 3 "$tmp/err"; fi
}
exits 0 "bench --help" "$bin" bench --help
exits 2 "bench: an unknown flag" "$bin" bench --bogus
exits 1 "bench: an unknown backend" "$bin" bench --model tiny-gpt2 --backend nope
exits 1 "bench: an unknown model" "$bin" bench --model no-such-model
exits 1 "bench: --seq past the model's context" "$bin" bench --model tiny-gpt2 --seq 100000
exits 0 "generate --help" "$bin" generate --help
exits 2 "generate: an unknown flag" "$bin" generate --bogus
exits 2 "generate: a required flag missing" "$bin" generate --out "$tmp/g"
exits 1 "generate: an unknown backend" "$bin" generate --ckpt "$tmp/none" --out "$tmp/g" --backend nope
exits 0 "judge --help" "$bin" judge --help
exits 2 "judge: an unknown flag" "$bin" judge --bogus
mkdir -p "$tmp/empty"
exits 2 "plot_data: wrong arguments" "$build/plot_data" only-one
exits 1 "plot_data: no records" "$build/plot_data" "$tmp/empty" "$tmp/plots"
exits 2 "make_tables: wrong arguments" "$build/make_tables" only-one
exits 1 "make_tables: no records" "$build/make_tables" "$tmp/empty" "$tmp/tables"
# The commands whose own loops the table-driven parser replaced.
exits 2 "eval: an unknown flag" "$bin" eval --bogus
exits 2 "eval: --ckpt and --data missing" "$bin" eval --batch 2
exits 2 "eval: --batch 0" "$bin" eval --ckpt "$tmp/none" --data "$tmp/none" --batch 0
exits 0 "score --help" "$bin" score --help
exits 2 "score: --seq not a number" "$bin" score --ckpt "$tmp/none" --ids "$tmp/none" --seq x
exits 2 "export: a missing value" "$bin" export --ckpt
exits 2 "tokenize: no file" "$bin" tokenize --ids
exits 1 "tokenize: a missing file" "$bin" tokenize --vocab bytes "$tmp/none"
exits 2 "detokenize: two files" "$bin" detokenize --vocab bytes "$tmp/a" "$tmp/b"
exits 2 "machine: --threads 0" "$bin" machine --threads 0
exits 2 "evaluate-music: --max-tunes not a number" "$bin" evaluate-music --dir "$tmp" --out "$tmp/m.json" --max-tunes x
exits 2 "representation-table: --sample -1" "$bin" representation-table --val "$tmp/v.abc" --out "$tmp/r" --sample -1
exits 2 "samples-index: an unknown flag" "$bin" samples-index --bogus
exits 2 "listening-page: one set" "$bin" listening-page --samples "$tmp" only-one
exits 2 "listening-results: no choices file" "$bin" listening-results --key "$tmp/k.json"
exits 2 "check-record: no record" "$bin" check-record --completed
exits 2 "prepare: no input" "$bin" prepare --force
exits 1 "prepare: an unknown tokenizer" "$bin" prepare --tokenizer words "$tmp"
exits 2 "music-table: a set without NAME=" "$bin" music-table --out "$tmp/t" metrics.json
exits 0 "grid run --help" "$bin" grid run --help
exits 2 "grid list: an option of grid run" "$bin" grid list grids/study.json --workers 2
gen=(); for i in 1 2 3 4 5 6 7 8 9; do gen+=(--generated "$tmp/g$i"); done
exits 2 "judge: nine --generated sets" "$bin" judge --validate --endpoint http://127.0.0.1:9 --model m --out "$tmp/j.json" --real "$tmp/r.abc" "${gen[@]}"
echo "test_exit_codes: $passed passed, $failed failed"
[ "$failed" = 0 ]
