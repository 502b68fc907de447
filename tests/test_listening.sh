#!/usr/bin/env bash
# test_listening.sh: the blind listening test, end to end.
#   - listening-page: N pairs from two different sets each, every pair of
#     sets equally often, clips copied under opaque names, no set name in
#     the page, the same key from the same seed;
#   - headless Chromium opens the page (#selftest): clip A plays, the
#     choice "A" is recorded, and the export is valid JSON of the page's test;
#   - listening-results joins choices with the key: win rates and Wilson
#     intervals as computed here by hand; a file from another test, or a
#     choice that is not A/B, is refused with one line.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
bin=${build:-build}/tunebench
tmp=$(mktemp -d /tmp/tb_test_listening_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_listening: $what"; tail -n 5 "$tmp/checks.log"; fi
}
if ! command -v lame >/dev/null; then
  echo "*** test_listening: lame is missing (bash scripts/deps.sh samples): no clips to test with ***"
  echo "test_listening: 0 passed, 1 failed"; exit 1
fi

# Two half-second clips per set (a 440 Hz tone), as make samples leaves them.
python3 - "$tmp/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "w"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 22050))) for i in range(11025)))
w.close()
PY
lame --quiet "$tmp/tone.wav" "$tmp/tone.mp3"
for s in zebra-6m yak-60m validation; do
  mkdir -p "$tmp/samples/$s"
  for i in 1 2; do cp "$tmp/tone.mp3" "$tmp/samples/$s/tune_00$i.mp3"; done
done
check "listening-page writes the page" "$bin" listening-page --samples "$tmp/samples" --pairs 6 --seed 4 zebra-6m yak-60m validation
check "the pairs: two sets each, every pair of sets twice, clips in place" python3 - "$tmp/samples" <<'PY'
import json, os, sys, collections
d = sys.argv[1]
key = json.load(open(d + "/listening_key.json"))
pairs = key["pairs"]
assert len(pairs) == 6
count = collections.Counter(tuple(sorted((p["a_set"], p["b_set"]))) for p in pairs)
assert all(a != b for a, b in count) and sorted(count.values()) == [2, 2, 2], count
html = open(d + "/listening.html").read()
for name in ("zebra", "yak", "validation", "tune_00"):
    assert name not in html, name
start = html.index("const TEST = ") + len("const TEST = ")
test = json.loads(html[start:html.index(";\n", start)])
assert test["test_id"] == key["test_id"] and len(test["pairs"]) == 6
for p in test["pairs"]:
    for side in "ab":
        assert os.path.getsize(d + "/listening/" + p[side]) > 0
PY
cp "$tmp/samples/listening_key.json" "$tmp/key1.json"
check "the same seed gives the same key" bash -c "'$bin' listening-page --samples '$tmp/samples' --pairs 6 --seed 4 zebra-6m yak-60m validation >/dev/null && cmp -s '$tmp/key1.json' '$tmp/samples/listening_key.json'"
check "a set with no clips is refused" bash -c "mkdir -p '$tmp/samples/empty' && ! '$bin' listening-page --samples '$tmp/samples' zebra-6m empty 2>'$tmp/empty.err' && grep -q 'no .mp3 clips' '$tmp/empty.err'"

if ! command -v chromium >/dev/null; then
  echo "*** test_listening: SKIPPED THE BROWSER CHECK: chromium is not installed (bash scripts/deps.sh samples) ***"
else
  timeout 120 chromium --headless --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required \
    --virtual-time-budget=8000 --dump-dom "file://$tmp/samples/listening.html#selftest" >"$tmp/dom.html" 2>/dev/null
  check "chromium: the page loads, clip A plays, one choice is recorded" \
    bash -c "grep -o '<body[^>]*>' '$tmp/dom.html' | grep 'data-selftest=\"done\"' | grep 'data-played-a=\"1\"' | grep 'data-choices=\"1\"' | grep -q 'data-audio-errors=\"0\"'"
  check "chromium: the export is valid JSON of this test" python3 - "$tmp/dom.html" "$tmp/samples/listening_key.json" "$tmp/export.json" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1]).read()
text = html.unescape(re.search(r'<pre id="export"[^>]*>(.*?)</pre>', dom, re.S).group(1))
e = json.loads(text)
key = json.load(open(sys.argv[2]))
assert e["schema"] == "tunebench.listening.v1" and e["test_id"] == key["test_id"], e
assert [c["choice"] for c in e["choices"]] == ["A"] and e["choices"][0]["pair"] == key["pairs"][0]["id"], e
json.dump(e, open(sys.argv[3], "w"))
PY
  check "listening-results reads the browser's export" "$bin" listening-results --key "$tmp/samples/listening_key.json" "$tmp/export.json"
fi

# Two listeners, one always choosing A and one always B: each pair is judged
# once for each side, so every set wins half of its games.
python3 - "$tmp/samples/listening_key.json" "$tmp" <<'PY'
import json, sys
key = json.load(open(sys.argv[1]))
for name, side in (("always_a", "A"), ("always_b", "B")):
    json.dump({"schema": "tunebench.listening.v1", "test_id": key["test_id"], "listener": name,
               "choices": [{"pair": p["id"], "choice": side} for p in key["pairs"]]}, open(f"{sys.argv[2]}/{name}.json", "w"))
json.dump({"schema": "tunebench.listening.v1", "test_id": "other", "choices": []}, open(sys.argv[2] + "/other.json", "w"))
json.dump({"schema": "tunebench.listening.v1", "test_id": key["test_id"],
           "choices": [{"pair": key["pairs"][0]["id"], "choice": "C"}]}, open(sys.argv[2] + "/bad.json", "w"))
PY
check "listening-results over two listeners" "$bin" listening-results --key "$tmp/samples/listening_key.json" --out "$tmp/results.json" "$tmp/always_a.json" "$tmp/always_b.json"
check "win rates and Wilson intervals" python3 - "$tmp/samples/listening_key.json" "$tmp/results.json" <<'PY'
import json, math, sys
key = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
# Each pair is judged twice, once for each side: every set wins half of its games.
games = {}
for p in key["pairs"]:
    for s in (p["a_set"], p["b_set"]):
        games[s] = games.get(s, 0) + 2
z = 1.959963984540054
for s in r["sets"]:
    n = games[s["set"]]
    assert s["pairs"] == n and s["wins"] == n // 2 and s["win_rate"] == 0.5, s
    c = (0.5 + z * z / (2 * n)) / (1 + z * z / n); h = z * math.sqrt(0.25 / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert abs(s["lo"] - (c - h)) < 1e-9 and abs(s["hi"] - (c + h)) < 1e-9, s
assert r["choices"] == 12 and len(r["sets"]) == 3 and len(r["head_to_head"]) == 6
PY
check "choices from another test are refused in one line" bash -c "! '$bin' listening-results --key '$tmp/samples/listening_key.json' '$tmp/other.json' 2>'$tmp/o.err' && test \$(wc -l <'$tmp/o.err') = 1 && grep -q 'but the key is for test' '$tmp/o.err'"
check "a choice that is not A or B is refused" bash -c "! '$bin' listening-results --key '$tmp/samples/listening_key.json' '$tmp/bad.json' 2>/dev/null"

echo "test_listening: $passed passed, $failed failed"
[ "$failed" = 0 ]
