#!/usr/bin/env python3
"""Dev-time interoperability check (not part of `make test`, never a runtime
dependency): Hugging Face transformers loads tunebench's GPT-2 checkpoints
with GPT2LMHeadModel.from_pretrained, and computes the same log-probabilities
as `tunebench score`. It also loads the HF-format fixture that the C tests
read, to confirm that fixture is what transformers itself accepts.

Needs transformers (with torch); for example:
  /usr/bin/python3 -m venv --system-site-packages /tmp/hfenv
  /tmp/hfenv/bin/pip install transformers==4.35.2
  make && /tmp/hfenv/bin/python tests/check_hf_transformers.py
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_tool(tmp):
    exe = os.path.join(tmp, "make_checkpoint")
    subprocess.check_call(["cc", "-O2", "-std=c11", "-fopenmp", "-D_GNU_SOURCE", "-I", ROOT,
                           "-I", os.path.join(ROOT, "src"),
                           os.path.join(ROOT, "tests/tools/make_checkpoint.c"),
                           os.path.join(ROOT, "build/libtunebench.a"),
                           "-lopenblas", "-lcjson", "-lm", "-o", exe])
    return exe


def compare(ckpt, ids):
    model = GPT2LMHeadModel.from_pretrained(ckpt)  # strict about names and shapes
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    ref = torch.log_softmax(logits.double(), dim=-1)
    ref = [ref[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
    out = subprocess.run([os.path.join(ROOT, "build/tunebench"), "score", "--ckpt", ckpt,
                          "--ids", "-"], input=" ".join(map(str, ids)), capture_output=True,
                         text=True, check=True)
    ours = json.loads(out.stdout)["logprobs"]
    worst = max(abs(a - b) / (1e-5 + abs(b)) for a, b in zip(ours, ref))
    print("%s: %d tokens, worst relative difference %.2e" % (ckpt, len(ours), worst))
    return worst < 1e-4


def main():
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tool = build_tool(tmp)
        for config, vocab, T in [("tiny-gpt2", 50, 16), ("gpt2-6m", 1024, 256)]:
            ckpt = os.path.join(tmp, config)
            subprocess.check_call([tool, config, str(vocab), "5", ckpt])
            g = torch.Generator().manual_seed(1)
            ids = torch.randint(0, vocab, (T,), generator=g).tolist()
            ok &= compare(ckpt, ids)
    fixture = os.path.join(ROOT, "tests/fixtures/hf-gpt2")
    GPT2LMHeadModel.from_pretrained(fixture)
    ok &= compare(fixture, list(range(0, 64, 4)))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
