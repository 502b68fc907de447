#!/usr/bin/python3
"""Interoperability check: a tunebench LSTM checkpoint loads into
torch.nn.Embedding + torch.nn.LSTM exactly as its config.json says, and
PyTorch computes the same loss as `tunebench score`.

Not part of `make test` unless /usr/bin/python3 has torch (tests/test_torch_lstm.sh
runs it then); never a runtime dependency. Needs build/tunebench and
build/libtunebench.a (`make`).

  /usr/bin/python3 tests/check_torch_lstm.py

For tiny-lstm and lstm-6m: a checkpoint written by tunebench (tests/tools/
make_checkpoint.c), its weights then made larger than the init (so that the
logits are far from uniform) and written back under the same names; the
model rebuilt from config.json alone, loaded with strict state-dict loading;
the mean next-token loss and every log-probability compared with tunebench's
(over several windows of the training length, each from a zero state, as
`tunebench score` reads a sequence).
Prints "check_torch_lstm: N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_write import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL check_torch_lstm: " + what)


def build_tool(tmp):
    exe = os.path.join(tmp, "make_checkpoint")
    subprocess.check_call(["cc", "-O2", "-std=c11", "-fopenmp", "-D_GNU_SOURCE", "-I", ROOT,
                           "-I", os.path.join(ROOT, "src"),
                           os.path.join(ROOT, "tests/tools/make_checkpoint.c"),
                           os.path.join(ROOT, "build/libtunebench.a"),
                           "-lopenblas", "-lcjson", "-lm", "-o", exe])
    return exe


def rebuild(ckpt):
    """The model as config.json describes it, from torch.nn modules only."""
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    emb = nn.Embedding(cfg["vocab_size"], cfg["embedding_dim"])
    lstm = nn.LSTM(**cfg["lstm"])
    tensors = load_file(os.path.join(ckpt, "model.safetensors"))
    prefix = cfg["lstm_tensor_prefix"]
    emb.load_state_dict({"weight": tensors[cfg["embedding_tensor"]]}, strict=True)
    lstm.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                         strict=True)
    others = set(tensors) - {cfg["embedding_tensor"]} - {k for k in tensors if k.startswith(prefix)}
    check(others <= {"lm_head.weight"}, "%s: unexpected tensors %s" % (ckpt, sorted(others)))
    if "lm_head.weight" in tensors:
        check(torch.equal(tensors["lm_head.weight"], emb.weight.data),
              "%s: lm_head.weight is not the tied embedding" % ckpt)
    check(cfg["tie_word_embeddings"] and cfg["final_norm"] is None and cfg["gate_order"] == "i,f,g,o",
          "%s: config.json does not describe a tied head without a final norm" % ckpt)
    return emb, lstm


def compare(ckpt, ids):
    """tunebench score scores sequential windows of the training length
    (tunebench.max_seq_len), each from a zero state, as `tunebench eval`
    does; so does this."""
    emb, lstm = rebuild(ckpt)
    with open(os.path.join(ckpt, "config.json")) as f:
        T = json.load(f)["tunebench"]["max_seq_len"]
    ref = []
    for start in range(0, len(ids) - 1, T):
        window = ids[start:min(start + T, len(ids) - 1)]
        with torch.no_grad():
            out, _ = lstm(emb(torch.tensor([window])))
            logp = torch.log_softmax(F.linear(out, emb.weight)[0].double(), dim=-1)
        ref += [logp[t, ids[start + t + 1]].item() for t in range(len(window))]
    res = subprocess.run([os.path.join(ROOT, "build/tunebench"), "score", "--ckpt", ckpt, "--ids", "-"],
                         input=" ".join(map(str, ids)), capture_output=True, text=True)
    check(res.returncode == 0, "tunebench score failed: " + res.stderr.strip())
    if res.returncode != 0:
        return
    ours = json.loads(res.stdout)["logprobs"]
    worst = max(abs(a - b) / (1e-5 + abs(b)) for a, b in zip(ours, ref))
    loss_ours, loss_ref = -sum(ours) / len(ours), -sum(ref) / len(ref)
    print("  %s: %d tokens, loss %.6f (torch %.6f), worst log-prob relative difference %.2e"
          % (os.path.basename(ckpt), len(ours), loss_ours, loss_ref, worst))
    check(len(ours) == len(ref), "%s: %d log-probabilities, torch %d" % (ckpt, len(ours), len(ref)))
    check(abs(loss_ours - loss_ref) <= 1e-5 * abs(loss_ref), "%s: loss %.7f, torch %.7f" % (ckpt, loss_ours, loss_ref))
    check(worst < 1e-4, "%s: log-probabilities differ by %.2e" % (ckpt, worst))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tool = build_tool(tmp)
        for config, vocab, T in [("tiny-lstm", 50, 40), ("lstm-6m", 1024, 300)]:
            ckpt = os.path.join(tmp, config)
            subprocess.check_call([tool, config, str(vocab), "5", ckpt])
            # Larger weights than the init (whose embedding std 0.02 gives near
            # uniform logits), so that the comparison says something; but not
            # much larger recurrent weights: at 4x W_hh the 480-unit recurrence
            # is chaotic and float rounding (libm's tanh or ours) grows over
            # 256 steps into percent-level differences, in either program.
            g = torch.Generator().manual_seed(3)
            path = os.path.join(ckpt, "model.safetensors")
            tensors = load_file(path)
            for name in tensors:
                scale = 10 if name == "embedding.weight" else 1.5
                tensors[name] = tensors[name] * scale + 0.01 * torch.randn(tensors[name].shape, generator=g)
            tensors["lm_head.weight"] = tensors["embedding.weight"]
            save_file(tensors, path)
            # The weights were changed on purpose: drop the checksum that
            # config.json keeps of the saved ones (tunebench refuses a mismatch).
            cfg_path = os.path.join(ckpt, "config.json")
            with open(cfg_path) as f:
                cfg = json.load(f)
            cfg.get("tunebench", {}).pop("weights_checksum", None)
            cfg.pop("tunebench.weights_checksum", None)
            with open(cfg_path, "w") as f:
                json.dump(cfg, f)
            ids = torch.randint(0, vocab, (T,), generator=g).tolist()  # several windows
            compare(ckpt, ids)
    print("check_torch_lstm: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
