#!/usr/bin/env bash
# test_music_table.sh: `tunebench music-table` on sets of hand-made tunes
# whose figures are known: set A (10 valid tunes), set B (the same 10 with an
# unclosed chord, so the checker fails them all), and the reference
# "validation" (12 valid tunes).
#   - intervals: Wilson 10/10 is [72.2, 100.0] and 0/10 is [0.0, 27.8];
#   - marks: B differs from validation (10 zeros against 12 ones: a
#     permutation p about 1/C(22,10)), A does not (the same values);
#     the pair A - B is +100.0 pp and significant;
#   - PREFIX_tests.json holds the p-values, PREFIX.dat value lo hi, and
#     gnuplot draws the figure with error bars from it;
#   - a JSON without intervals is refused with one line;
#   - the claims table: verdicts for sets whose figures are known.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
bin=${build:-build}/tunebench
tmp=$(mktemp -d /tmp/tb_test_music_table_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_music_table: $what"; tail -n 5 "$tmp/checks.log"; fi
}

mkdir -p "$tmp/A" "$tmp/B"
for i in $(seq 10); do
  printf 'X:%d\nM:4/4\nL:1/8\nK:G\nGABc dBAG|c2e2 d2B2|]\n' "$i" >"$tmp/A/t$i.abc"
  printf 'X:%d\nM:4/4\nL:1/8\nK:G\nGABc [dBAG|c2e2 d2B2|]\n' "$i" >"$tmp/B/t$i.abc"
done
for i in $(seq 12); do printf 'X:%d\nM:4/4\nL:1/8\nK:G\nGABc dBAG|c2e2 d2B2|]\n\n' "$i"; done >"$tmp/val.abc"
for s in A B; do
  check "evaluate-music $s" "$bin" evaluate-music --dir "$tmp/$s" --ref "$tmp/val.abc" --out "$tmp/$s.json"
done
check "evaluate-music validation" "$bin" evaluate-music --file "$tmp/val.abc" --ref "$tmp/val.abc" --out "$tmp/validation.json"
check "the JSON states the interval and its method" python3 - "$tmp/A.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["intervals"]["checker_valid_rate"]
assert v["value"] == 1 and abs(v["lo"] - 0.722467) < 1e-6 and v["method"] == "wilson" and v["tunes"] == 10, v
b = r["intervals"]["bar_consistency"]
assert b["value"] == 1 and b["lo"] == 1 and b["method"] == "bootstrap", b
assert r["per_tune"]["checker_valid_rate"]["num"] == [1] * 10
assert r["intervals"]["bootstrap_resamples"] > 0
PY
check "music-table runs" "$bin" music-table --out "$tmp/out/music" A="$tmp/A.json" B="$tmp/B.json" validation="$tmp/validation.json"
check "A: 100.0 [72.2, 100.0], unmarked" grep -q '^| A | 10 | 100.0 \[72.2, 100.0\] |' "$tmp/out/music.md"
check "B: 0.0 [0.0, 27.8], marked as differing from validation" grep -q '^| B | 10 | 0.0\* \[0.0, 27.8\] |' "$tmp/out/music.md"
check "the pair A - B: +100.0 pp, significant" grep -q '^| A - B | +100.0\* |' "$tmp/out/music_pairs.md"
check "the LaTeX tables carry the marks and intervals" bash -c "grep -q '0.0\$^{\*}\$ {.scriptsize\[0.0, 27.8\]}' '$tmp/out/music.tex' && grep -q 'A\$-\$B' '$tmp/out/music_pairs.tex'"
check "the tests JSON" python3 - "$tmp/out/music_tests.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
by = {(x["metric"], x["a"], x["b"]): x for x in t["tests"]}
ab = by[("checker_valid_rate", "A", "B")]
assert ab["significant"] and ab["p"] < 0.01 and ab["difference"] == 1, ab
av = by[("checker_valid_rate", "A", "validation")]
assert not av["significant"] and av["p_holm"] == 1, av
assert by[("checker_valid_rate", "B", "validation")]["significant"]
assert t["permutations"] >= 1000 and t["alpha"] == 0.05
PY
check "the figure data: a header, then value lo hi" bash -c "head -n 1 '$tmp/out/music.dat' | grep -q '^set \"valid (checker)\" lo hi \"valid (abc2midi)\" lo hi' && grep -q '^\"A\" 100.00 72.25 100.00 ' '$tmp/out/music.dat' && ! grep -q 'bars in train' '$tmp/out/music.dat'"
if command -v gnuplot >/dev/null; then
  check "gnuplot draws the figure with error bars" bash -c "gnuplot -e \"music='$tmp/out/music.dat'; out='$tmp/out/fig'; fmt='svg'\" plots/music_metrics.gp && test -s '$tmp/out/fig.svg'"
fi
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); del d['intervals']; json.dump(d, open(sys.argv[2],'w'))" "$tmp/A.json" "$tmp/old.json"
check "a JSON without intervals is refused with one line" bash -c "! '$bin' music-table --out '$tmp/out/x' A='$tmp/old.json' 2>'$tmp/old.err' && test \$(wc -l <'$tmp/old.err') = 1 && grep -q 'rerun make music-eval' '$tmp/old.err'"

# The claims table: gpt2-60m's tunes reach further than gpt2-6m's (range 34
# against 9 semitones, more pitch classes and steps); mamba's two sizes are
# the same tunes. Every tune plays in abc2midi.
for s in gpt2-6m gpt2-60m mamba-6m mamba-60m; do mkdir -p "$tmp/$s"; done
for i in $(seq 10); do
  for s in gpt2-6m mamba-6m mamba-60m; do printf 'X:%d\nM:4/4\nL:1/8\nK:G\nGABc dBAG|c2e2 d2B2|]\n' "$i" >"$tmp/$s/t$i.abc"; done
  printf "X:%d\nM:4/4\nL:1/8\nK:C\nCEGc egc'e'|^F,A,^Dd ^a2f2|]\n" "$i" >"$tmp/gpt2-60m/t$i.abc"
done
for s in gpt2-6m gpt2-60m mamba-6m mamba-60m; do
  check "evaluate-music $s" "$bin" evaluate-music --dir "$tmp/$s" --ref "$tmp/val.abc" --out "$tmp/$s.json"
done
check "music-table with two architectures at two sizes" "$bin" music-table --out "$tmp/out/claims" gpt2-6m="$tmp/gpt2-6m.json" \
  gpt2-60m="$tmp/gpt2-60m.json" mamba-6m="$tmp/mamba-6m.json" mamba-60m="$tmp/mamba-60m.json" validation="$tmp/validation.json"
check "claim (a) at 6M and 60M: both models' tunes all play, [72.2, 100.0]: supported" \
  bash -c "grep -c '^| (a) .*GPT-2 100.0 \[72.2, 100.0\] (10 tunes); Mamba 100.0 \[72.2, 100.0\] (10 tunes) | supported |' '$tmp/out/claims_claims.md' | grep -qx 2"
check "claim (b) for gpt2: range 34.00 against 9.00, supported" \
  grep -q '^| (b) More parameters, more complex melodies (gpt2) .*range (semitones): 60M 34.00 \[34.00, 34.00\] vs 6M 9.00 \[9.00, 9.00\].* | supported |' "$tmp/out/claims_claims.md"
check "claim (b) for mamba, the same tunes: undecided" \
  grep -q '^| (b) More parameters, more complex melodies (mamba) .*(Holm p=1) | undecided at this sample size |' "$tmp/out/claims_claims.md"
check "the claims table in LaTeX" grep -q 'label{tab:music-claims}' "$tmp/out/claims_claims.tex"

echo "test_music_table: $passed passed, $failed failed"
[ "$failed" = 0 ]
