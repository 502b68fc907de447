#!/usr/bin/python3
"""The PyTorch peer of `tunebench bench` for the LSTM (run by it with --peer).

Reads tunebench's LSTM config.json (models/lstm.c: nn.Embedding, nn.LSTM with
the keyword arguments under "lstm", the LM head tied to the embedding) and
measures, like tunebench does:
  training  median step time of zero_grad + forward + cross-entropy +
            backward + clip_grad_norm_(1.0) + AdamW (betas 0.9/0.95, eps 1e-8,
            weight decay 0.1 on 2-D weights) at batch x seq on random tokens
  prefill   batch 1, seq tokens, under inference_mode
  decode    batch 1, one token from the (h, c) state, median over --decode-steps
Prints one JSON object on stdout.

PyTorch gets its best chance: the thread count given (torch.set_num_threads);
the model is torch.nn.LSTM itself, the fused whole-sequence op (at::lstm: the
input projection of all steps as one matmul, then the recurrence in C++);
Debian's torch also has oneDNN (MKL-DNN), whose RNN kernels at::lstm may use
where they apply, so training runs once with oneDNN allowed (the default) and
once with it off (torch.backends.mkldnn.flags), each in its own process, and
the faster counts; training under the OpenMP wait policy that suits it and
inference under each of INFERENCE_WAIT_POLICIES, keeping the faster
(scripts/torch_peer_common.py); glibc malloc settings that keep large
tensors' memory between steps (set by the caller, src/bench.c); foreach AdamW.
"""
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_peer_common import (TRAIN_WAIT_POLICY, best_inference, openblas_core, protocol_parser,
                               read_config, run_self_in_child)

VARIANTS = ("mkldnn-allowed", "mkldnn-off")


class LSTMLM(nn.Module):
    """tunebench's LSTM as config.json describes it."""

    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embedding_dim"])
        self.lstm = nn.LSTM(**cfg["lstm"])
        nn.init.normal_(self.embedding.weight, 0.0, 0.02)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embedding(idx), state)
        return F.linear(out, self.embedding.weight), state  # tied LM head


def train_steps(model, args, V):
    """Median step time of the training protocol (see the top): its JSON."""
    params = list(model.parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() == 2], "weight_decay": 0.1},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    B, T = args.batch, args.seq
    times = []
    for step in range(args.warmup + args.steps):
        idx = torch.randint(0, V, (B, T))
        tgt = torch.randint(0, V, (B, T))
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits, _ = model(idx)
        loss = F.cross_entropy(logits.view(-1, V), tgt.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(dt * 1e3)
    step_ms = statistics.median(times)
    return {"step_ms_median": step_ms, "step_ms": times, "tokens_per_s": B * T / (step_ms * 1e-3),
            "last_loss": loss.item()}


def inference(model, cfg, args):
    """Batch-1 prefill of seq tokens, then decode steps from its state."""
    V, T = cfg["vocab_size"], args.seq
    with torch.inference_mode():
        prompt = torch.randint(0, V, (1, T))
        pre = []
        for _ in range(3):
            t0 = time.perf_counter()
            _, state = model(prompt)
            pre.append((time.perf_counter() - t0) * 1e3)
        tok = torch.randint(0, V, (1, 1))
        dec = []
        for r in range(args.decode_steps + 2):
            t0 = time.perf_counter()
            _, state = model(tok, state)
            if r >= 2:
                dec.append((time.perf_counter() - t0) * 1e3)
    return {"prefill_tokens": T, "prefill_ms_median": statistics.median(pre), "prefill_ms": pre,
            "decode_context": T, "decode_ms_per_token_median": statistics.median(dec),
            "decode_ms": dec}


def main():
    ap = protocol_parser(__doc__, "the model's config.json (tunebench's LSTM)", steps=10, warmup=2)
    ap.add_argument("--train-only", choices=VARIANTS,
                    help="(internal) time the training steps of one variant and print their JSON")
    ap.add_argument("--inference-only", action="store_true",
                    help="(internal) time prefill and decode and print their JSON")
    args = ap.parse_args()
    cfg = read_config(args, torch, seed=1)
    V = cfg["vocab_size"]
    if args.train_only:
        model = LSTMLM(cfg)
        with torch.backends.mkldnn.flags(enabled=args.train_only == "mkldnn-allowed"):
            out = train_steps(model, args, V)
        out["num_params"] = sum(p.numel() for p in model.parameters())
        print(json.dumps(out))
        return
    if args.inference_only:
        print(json.dumps(inference(LSTMLM(cfg), cfg, args)))
        return
    # Each phase and variant in its own process (see torch_peer_common.py);
    # this one runs no torch op meanwhile.
    variants, errors = {}, []
    for v in VARIANTS:
        out, why = run_self_in_child(["--train-only", v], "training (%s)" % v)
        if out is None:
            errors.append(why)
        else:
            variants[v] = out
    if not variants:
        raise SystemExit("bench_torch_lstm.py: " + "; ".join(errors))
    best = min(variants, key=lambda v: variants[v]["step_ms_median"])
    train = dict(variants[best])
    train["variant"] = best
    train["variants"] = {v: {"step_ms_median": o["step_ms_median"], "step_ms": o["step_ms"]}
                         for v, o in variants.items()}
    inf = best_inference(["--inference-only"])
    blas = [line.strip() for line in torch.__config__.show().splitlines() if "BLAS" in line]
    print(json.dumps({
        "implementation": "PyTorch %s nn.LSTM (scripts/bench_torch_lstm.py)" % torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": {"train": TRAIN_WAIT_POLICY, "inference": inf["wait_policy"]},
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "blas": blas,
        "openblas_core": openblas_core(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "num_params": train.pop("num_params"),
        "train": train,
        "inference": inf,
    }))


if __name__ == "__main__":
    main()
