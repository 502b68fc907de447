#!/usr/bin/env python3
"""Interoperability check (`make test-ecosystem`; never a runtime dependency):
Hugging Face transformers loads tunebench checkpoints with no rename, with
GPT2LMHeadModel.from_pretrained and MambaForCausalLM.from_pretrained (no
missing, unexpected or misshapen tensor), and computes the same
log-probabilities as `tunebench score`. It also loads the HF-format GPT-2
fixture that the C tests read, to confirm that fixture is what transformers
itself accepts.

Needs transformers with torch; `make test-ecosystem` makes the environment
(scripts/ecosystem_venv.sh) and runs this with it. Prints
"check_hf_transformers: N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import GPT2LMHeadModel, MambaForCausalLM

transformers.logging.set_verbosity_error()  # not the note that mamba_ssm's CUDA kernels are absent
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 1e-4  # worst relative difference of a log-probability
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL check_hf_transformers: " + what)


def build_tool(tmp):
    exe = os.path.join(tmp, "make_checkpoint")
    subprocess.check_call(["cc", "-O2", "-std=c11", "-fopenmp", "-D_GNU_SOURCE", "-I", ROOT,
                           "-I", os.path.join(ROOT, "src"),
                           os.path.join(ROOT, "tests/tools/make_checkpoint.c"),
                           os.path.join(ROOT, "build/libtunebench.a"),
                           "-lopenblas", "-lcjson", "-lm", "-o", exe])
    return exe


def compare(cls, ckpt, ids):
    model, info = cls.from_pretrained(ckpt, output_loading_info=True)
    clean = not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    check(clean, "%s.from_pretrained(%s) renamed or dropped tensors: %s" % (cls.__name__, ckpt, info))
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids]), use_cache=False).logits[0]
    ref = torch.log_softmax(logits.double(), dim=-1)
    ref = [ref[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
    out = subprocess.run([os.path.join(ROOT, "build/tunebench"), "score", "--ckpt", ckpt,
                          "--ids", "-"], input=" ".join(map(str, ids)), capture_output=True,
                         text=True, check=True)
    ours = json.loads(out.stdout)["logprobs"]
    worst = max(abs(a - b) / (1e-5 + abs(b)) for a, b in zip(ours, ref))
    print("%s %s: %d tokens, worst relative difference %.2e" % (cls.__name__, ckpt, len(ours), worst))
    check(len(ours) == len(ref) and worst < TOLERANCE,
          "%s: log-probabilities differ from tunebench score by %.2e" % (ckpt, worst))


def main():
    print("transformers %s, torch %s" % (transformers.__version__, torch.__version__))
    with tempfile.TemporaryDirectory() as tmp:
        tool = build_tool(tmp)
        cases = [(GPT2LMHeadModel, "tiny-gpt2", 50, 16), (GPT2LMHeadModel, "gpt2-6m", 1024, 256),
                 (MambaForCausalLM, "tiny-mamba", 50, 16), (MambaForCausalLM, "mamba-6m", 1024, 256)]
        for cls, config, vocab, T in cases:
            ckpt = os.path.join(tmp, config)
            subprocess.check_call([tool, config, str(vocab), "5", ckpt, "0.1"])
            g = torch.Generator().manual_seed(1)
            compare(cls, ckpt, torch.randint(0, vocab, (T,), generator=g).tolist())
    compare(GPT2LMHeadModel, os.path.join(ROOT, "tests/fixtures/hf-gpt2"), list(range(0, 64, 4)))
    print("check_hf_transformers: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
