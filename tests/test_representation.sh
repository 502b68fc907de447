#!/usr/bin/env bash
# test_representation.sh: `tunebench representation-table` end to end, on
# three tunes rendered for real (abc2midi, fluidsynth, lame: make test
# installs them with deps-samples):
#   - PREFIX.md, .tex and .json agree: tunes in the split and measured, a
#     total that is the mean times the tunes, the ABC bytes of the tunes
#     themselves, and sizes that grow from ABC to MIDI to MP3 to WAV;
#   - without --tokenizer there is no music-aware row or abc_tokens;
#   - --sample 1 renders one tune and says the sample is evenly spaced;
#   - stdout is PREFIX.md.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
bin=${build:-build}/tunebench
tmp=$(mktemp -d /tmp/tb_test_representation_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_representation: $what"; tail -n 5 "$tmp/checks.log"; fi
}
for tool in abc2midi fluidsynth lame; do
  if ! command -v "$tool" >/dev/null; then
    echo "*** test_representation: $tool is missing (bash scripts/deps.sh samples) ***"
    echo "test_representation: 0 passed, 1 failed"; exit 1
  fi
done

printf 'X:1\nT:One\nM:6/8\nL:1/8\nK:D\nA|d2e fed|c2B A3|d2e fed|e3 d2:|\n\nX:2\nT:Two\nM:4/4\nL:1/8\nK:Ador\n|:EA A2 ABcd|e2 dc BA A2:|\n\nX:3\nT:Three\nM:3/4\nL:1/8\nK:G\nG2 B2 d2|g4 d2|B2 G4|]\n' >"$tmp/val.abc"
check "three tunes render" bash -c "'$bin' representation-table --val '$tmp/val.abc' --out '$tmp/all/repr' --sample 0 >'$tmp/all.out'"
check "stdout is PREFIX.md" cmp -s "$tmp/all.out" "$tmp/all/repr.md"
check "the LaTeX table is written" grep -qF 'label{tab:representation}' "$tmp/all/repr.tex"
check "the markdown says 3 of 3 rendered" grep -qF '3 of 3 tunes rendered (0 could not be)' "$tmp/all/repr.md"
check "no music-aware row without --tokenizer" bash -c "! grep -q 'music-aware' '$tmp/all/repr.md' '$tmp/all/repr.tex'"
check "four rows: WAV, MP3, MIDI, ABC bytes" [ "$(grep -c '^| [WMA]' "$tmp/all/repr.md")" = 4 ]
python3 - "$tmp/all/repr.json" "$tmp/val.abc" >>"$tmp/checks.log" 2>&1 <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
n = 3
assert j["schema"] == "tunebench.representation.v1", j["schema"]
assert (j["tunes_in_split"], j["tunes_measured"], j["tunes_not_renderable"]) == (3, 3, 0), j
assert "abc_tokens" not in j, "abc_tokens without a tokenizer"
for k in ("abc_bytes", "abc_byte_tokens", "midi_bytes", "midi_events", "wav_bytes", "wav_samples_per_channel", "mp3_bytes"):
    assert j[k]["total"] > 0 and abs(j[k]["mean"] * n - j[k]["total"]) < 1e-6 * j[k]["total"], (k, j[k])
# The three tunes are the file but for the blank lines between them.
size = len(open(sys.argv[2], "rb").read())
assert size - 3 * n <= j["abc_bytes"]["total"] <= size, (j["abc_bytes"], size)
assert j["abc_bytes"]["total"] == j["abc_byte_tokens"]["total"], "bytes and byte tokens differ"
assert j["abc_bytes"]["total"] < j["midi_bytes"]["total"] < j["mp3_bytes"]["total"] < j["wav_bytes"]["total"], j
PY
check "the JSON's counts, totals and sizes" [ $? = 0 ]
check "--sample 1 renders one tune" bash -c "'$bin' representation-table --val '$tmp/val.abc' --out '$tmp/one/repr' --sample 1 >/dev/null && grep -qF '1 of 3 tunes rendered, evenly spaced' '$tmp/one/repr.md' && grep -qF '(of 3, evenly spaced)' '$tmp/one/repr.tex'"
check "a missing split is one line, exit 1" bash -c "'$bin' representation-table --val '$tmp/none.abc' --out '$tmp/x/repr' 2>'$tmp/none.err'; [ \$? = 1 ] && [ \$(wc -l <'$tmp/none.err') = 1 ]"
echo "test_representation: $passed passed, $failed failed"
[ "$failed" = 0 ]
