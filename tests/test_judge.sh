#!/usr/bin/env bash
# test_judge.sh: `tunebench judge` against a real chat-completions server
# (tests/judge_server.py) started on 127.0.0.1; no other network is used.
#   - every tune gets the study's prompt verbatim and the rubric; the record
#     holds both answers, the scores, the judge's model id from the response,
#     the prompts' and the tune's hashes;
#   - 429 (Retry-After) and 503 are retried and end ok; 500 every time ends
#     server_error after 1 + --retries attempts; a 3 s answer with --timeout 1
#     is a timeout; a body that is not JSON is malformed_response; a refusal
#     is refused; a rubric answer without JSON is malformed_scores; none of
#     them stops the run;
#   - the API key from the environment reaches the server and appears in no
#     output, log or cache file;
#   - a rerun is answered from the cache: the server sees no new request for
#     the tunes that were answered;
#   - --validate with two judges: AUC real vs truncated 1 and vs the other
#     corruptions 0.5 (the server's judge-a scores 9 only a tune whose last
#     line closes with |] or ||), Spearman and Krippendorff's alpha present;
#   - bad options get one line and exit 2.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
bin=${build:-build}/tunebench
tmp=$(mktemp -d /tmp/tb_test_judge_XXXXXX)
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_judge: $what"; tail -n 5 "$tmp/checks.log"; fi
}

python3 tests/judge_server.py "$tmp/port" "$tmp/requests.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -f "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
endpoint=http://127.0.0.1:$port/v1

mkdir -p "$tmp/tunes"
i=0
for c in ok 429 500 always500 timeout malformed refusal badscores; do
  i=$((i + 1))
  printf 'X:%d\nT:case %s\nM:4/4\nL:1/8\nK:G\nGABc dBAG|c2e2 d2B2|]\n' "$i" "$c" >"$tmp/tunes/t$i.abc"
done

export TB_TEST_JUDGE_KEY=sk-test-secret-4242
run_judge() {
  "$bin" judge --endpoint "$endpoint" --model judge-a --key-env TB_TEST_JUDGE_KEY --dir "$tmp/tunes" \
    --cache "$tmp/cache" --timeout 1 --retries 2 --backoff 0.05 --out "$tmp/$1.json" >"$tmp/$1.out" 2>"$tmp/$1.err"
}
check "judge runs over eight tunes with every failure mode, exit 0" run_judge first
check "the record is the expected one" python3 - "$tmp/first.json" "$tmp/requests.log" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
want = {"ok": "ok", "429": "ok", "500": "ok", "always500": "server_error", "timeout": "timeout",
        "malformed": "malformed_response", "refusal": "refused", "badscores": "malformed_scores"}
tunes = r["tunes"]
assert r["schema"] == "tunebench.judge.v1" and len(tunes) == 8, len(tunes)
study = r["prompts"]["study"]["text"]
assert study == ("I have some music in ABC notation that I generated. Could you analyze it and tell me if it "
                 "sounds natural? Specifically, I would like your feedback on the overall musicality, the sense "
                 "of harmony, and whether the melody and chord progressions are coherent and pleasing. Here is "
                 "the ABC notation of the music:"), study
assert len(r["prompts"]["study"]["hash"]) == 16 and len(r["prompts"]["rubric"]["hash"]) == 16
for t, case in zip(tunes, want):
    assert t["status"] == want[case], (case, t["status"], t)
    assert len(t["tune_hash"]) == 16
ok = tunes[0]
assert ok["judge_model_id"] == "judge-a-2024-06-01", ok["judge_model_id"]
assert ok["study"]["content"].startswith("It sounds natural"), ok["study"]
assert ok["rubric"]["scores"] == {"musicality": 9, "harmony": 9, "coherence": 9}, ok["rubric"]
assert ok["rubric"]["mean_score"] == 9
assert tunes[1]["study"]["attempts"] == 2 and tunes[2]["study"]["attempts"] == 3, (tunes[1]["study"], tunes[2]["study"])
assert tunes[3]["study"]["attempts"] == 3 and tunes[3]["study"]["http_status"] == 500
assert tunes[6]["study"]["content"] == "I cannot help with that."
assert "scores" not in tunes[7]["rubric"]
s = r["summary"]
assert s["tunes"] == 8 and s["ok"] == 3 and s["statuses"]["ok"] == 3, s
assert s["musicality"]["mean"] == 9 and s["musicality"]["lo"] == 9 and s["bootstrap_resamples"] > 0, s
# Every question carried the study prompt or the rubric, at temperature 0.
reqs = [json.loads(l) for l in open(sys.argv[2])]
assert all(q["temperature"] == 0 and q["path"] == "/v1/chat/completions" for q in reqs)
EOF
check "the key reached the server as a Bearer token" grep -q '"auth": "Bearer sk-test-secret-4242"' "$tmp/requests.log"
check "the key is written nowhere" bash -c "! grep -rq sk-test-secret-4242 '$tmp/first.json' '$tmp/first.out' '$tmp/first.err' '$tmp/cache'"
check "each failed tune has one clear line on stderr" bash -c "grep -c '^judge: tune' '$tmp/first.err' | grep -qx 5"

before=$(wc -l <"$tmp/requests.log")
check "the rerun exits 0" run_judge second
after=$(wc -l <"$tmp/requests.log")
# Cached: ok, 429, 500, refusal (both questions), badscores (both): only
# always500 (3 attempts x 2), timeout (2) and malformed (2) are asked again.
check "the rerun asks only what failed ($((after - before)) requests, want 10)" test $((after - before)) = 10
check "the rerun gives the same answers, marked cached" python3 - "$tmp/first.json" "$tmp/second.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for x, y in zip(a["tunes"], b["tunes"]):
    assert x["status"] == y["status"] and x["rubric"].get("scores") == y["rubric"].get("scores"), (x, y)
assert b["tunes"][0]["study"]["cached"] is True and b["tunes"][0]["rubric"]["cached"] is True
assert b["tunes"][0]["judge_model_id"] == "judge-a-2024-06-01"
assert b["summary"]["questions_asked"] == 6, b["summary"]  # 3 tunes x 2 questions
EOF

# --validate: four real tunes ending with |], two judges.
for k in 1 2 3 4; do
  printf 'X:%d\nT:real %d\nM:4/4\nL:1/8\nK:D\n|:DFAd fdAF|GBdg bgdB|\nAcea gecA|d2f2 d4:|\n|:fgaf gfed|cdec BAGF|\nEFGA Bcde|d2A2 D4|]\n\n' "$k" "$k" >>"$tmp/real.abc"
done
mkdir -p "$tmp/gen"
printf 'X:1\nT:gen\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|efga bagf|\n' >"$tmp/gen/tune_001.abc"
check "judge --validate with two judges exits 0" "$bin" judge --validate --endpoint "$endpoint" --model judge-a \
  --model2 judge-b --real "$tmp/real.abc" --generated "$tmp/gen" --n 4 --cache "$tmp/cache" --backoff 0.05 \
  --out "$tmp/validate.json"
check "validation figures" python3 - "$tmp/validate.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["validation"][0]
g = a["groups"]
assert g["real"]["tunes"] == 4 and g["real"]["scored"] == 4 and g["real"]["score"]["mean"] == 9, g["real"]
assert g["truncated"]["auc_real_vs_this"] == 1.0, g["truncated"]
assert g["shuffled_bars"]["auc_real_vs_this"] == 0.5 and g["random_pitches"]["auc_real_vs_this"] == 0.5, g
gen = [k for k in g if k.endswith("/gen")][0]
assert g[gen]["tunes"] == 1 and g[gen]["auc_real_vs_this"] == 1.0, g[gen]
# 4 real at 9 against 12 corrupted, of which the 4 truncated score 3: (4*4 + 8*4*0.5) / 48
assert abs(a["auc_real_vs_corrupted"] - 32 / 48) < 1e-12, a["auc_real_vs_corrupted"]
ag = r["agreement"]
assert ag["tunes_scored_by_both"] == 17, ag
assert -1 <= ag["spearman"] <= 1 and ag["krippendorff_alpha_interval"] <= 1, ag
# Corrupted tunes keep the header and differ from the real one.
t = r["tunes"]
assert [x["group"] for x in t[:4]] == ["real", "shuffled_bars", "random_pitches", "truncated"], [x["group"] for x in t[:4]]
assert len({x["scored_hash"] for x in t[:4]}) == 4
EOF

check "a missing --model is one line, exit 2" bash -c "'$bin' judge --endpoint '$endpoint' --dir '$tmp/tunes' --out '$tmp/x.json' 2>'$tmp/bad.err'; test \$? = 2 && test \$(wc -l <'$tmp/bad.err') = 1 && grep -q -- '--model' '$tmp/bad.err'"
check "--timeout abc is refused" bash -c "'$bin' judge --endpoint '$endpoint' --model m --dir '$tmp/tunes' --out '$tmp/x.json' --timeout abc 2>/dev/null; test \$? = 2"
check "a server that is not there: connection_error per tune, exit 0" bash -c "'$bin' judge --endpoint http://127.0.0.1:9/v1 --model m --file '$tmp/tunes/t1.abc' --cache none --out '$tmp/x.json' 2>/dev/null && grep -q connection_error '$tmp/x.json'"
check "judge --help documents the endpoint, the key variable and --validate" bash -c "'$bin' judge --help | grep -q -- '--endpoint URL' && '$bin' judge --help | grep -q TUNEBENCH_JUDGE_KEY && '$bin' judge --help | grep -q -- '--validate'"

echo "test_judge: $passed passed, $failed failed"
[ "$failed" = 0 ]
