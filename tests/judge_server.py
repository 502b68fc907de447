#!/usr/bin/env python3
"""A chat-completions server on 127.0.0.1 for tests/test_judge.sh.

It answers POST /v1/chat/completions the way llama-server or vLLM do, and
misbehaves on request, chosen by the tune's title (T:case NAME) in the
question:
  ok           a normal answer (the rubric gets JSON scores, see below)
  429          HTTP 429 with Retry-After: 0 on the first request of each
               question, then a normal answer
  500          HTTP 503 on the first two requests of each question, then normal
  always500    HTTP 500 every time
  timeout      sleeps 3 s before answering (the test's --timeout is 1 s)
  malformed    a body that is not JSON
  refusal      an OpenAI-style refusal (message.refusal, content null)
  badscores    the rubric answer is prose without JSON
Rubric scores: model "judge-a" gives 9 to a tune whose last body line ends
with a bar line that closes it (|] or ||), else 3; model "judge-b" gives
the number of bar lines in the tune, clamped to 1..10.

Usage: judge_server.py PORT_FILE LOG_FILE. Binds port 0, writes the port to
PORT_FILE, and appends one JSON line per request to LOG_FILE (the model, the
title, and whether an Authorization header came and with which key).
"""
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUBRIC_MARK = "Answer with only a JSON object"
seen = {}


def scores(model, tune):
    lines = [l for l in tune.strip().split("\n") if l and not re.match(r"^[A-Za-z]:", l)]
    if model == "judge-b":
        s = max(1, min(10, tune.count("|")))
    else:
        s = 9 if lines and (lines[-1].rstrip().endswith("|]") or lines[-1].rstrip().endswith("||")) else 3
    return {"musicality": s, "harmony": s, "coherence": s}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the client gave up (the timeout case)
            pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        req = json.loads(self.rfile.read(length))
        question = req["messages"][0]["content"]
        model = req["model"]
        m = re.search(r"^T:case (\w+)", question, re.M)
        case = m.group(1) if m else "ok"
        auth = self.headers.get("Authorization")
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps({"path": self.path, "model": model, "case": case, "auth": auth,
                                  "rubric": RUBRIC_MARK in question, "temperature": req.get("temperature")}) + "\n")
        if self.path != "/v1/chat/completions":
            return self.reply(404, '{"error": "no such path"}')
        key = (model, question)
        seen[key] = seen.get(key, 0) + 1
        if case == "429" and seen[key] == 1:
            return self.reply(429, '{"error": "slow down"}', [("Retry-After", "0")])
        if case == "500" and seen[key] <= 2:
            return self.reply(503, '{"error": "busy"}')
        if case == "always500":
            return self.reply(500, '{"error": "broken"}')
        if case == "timeout":
            time.sleep(3)
        if case == "malformed":
            return self.reply(200, '{"choices": [{"message": {"content": "unterminated')
        message = {"role": "assistant", "content": None}
        finish = "stop"
        if case == "refusal":
            message["refusal"] = "I cannot help with that."
        elif RUBRIC_MARK in question:
            tune = question.split("Here is the ABC notation of the music:", 1)[1]
            message["content"] = ("I think it is fine." if case == "badscores"
                                  else "```json\n" + json.dumps(scores(model, tune)) + "\n```")
        else:
            message["content"] = "It sounds natural, with a clear melody in " + case + "."
        body = {"id": "cmpl-1", "object": "chat.completion", "model": model + "-2024-06-01",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
        self.reply(200, json.dumps(body))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
