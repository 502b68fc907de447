#!/usr/bin/python3
"""The PyTorch peer of `tunebench bench` for GPT-2 (run by it with --peer).

Reads a GPT2Config-style config.json and measures, like tunebench does:
  training  median step time of zero_grad + forward + cross-entropy +
            backward + clip_grad_norm_(1.0) + AdamW (betas 0.9/0.95, eps 1e-8,
            weight decay 0.1 on 2-D weights) at batch x seq on random tokens
  prefill   batch 1, seq tokens, under inference_mode
  decode    batch 1, one token with a KV cache already filled to
            n_positions - 1, median over --decode-steps
Prints one JSON object on stdout.

PyTorch gets its best chance: the thread count given (torch.set_num_threads);
training in a child process under the OpenMP wait policy that suits it
(TRAIN_WAIT_POLICY, scripts/torch_peer_common.py), inference in one child
under each of INFERENCE_WAIT_POLICIES, keeping the faster; glibc malloc settings that keep large tensors'
memory between steps (set by the caller, bench/bench.c, before the runtimes
start); OpenBLAS underneath (Debian's build); and the standard fast paths:
nn.Linear (one addmm), F.gelu with the tanh approximation, F.layer_norm, a
boolean-mask softmax, foreach AdamW.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_peer_common import (TRAIN_WAIT_POLICY, add_phase_options, best_inference, describe_run,
                               inference_json, print_training, protocol_parser, read_config,
                               run_self_in_child, timed_ms)


class Block(nn.Module):
    def __init__(self, C, NH, eps):
        super().__init__()
        self.NH, self.eps = NH, eps
        self.ln_1, self.ln_2 = nn.LayerNorm(C, eps=eps), nn.LayerNorm(C, eps=eps)
        self.c_attn, self.attn_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def attention(self, x, cache=None, pos=0):
        B, T, C = x.shape
        NH, hs = self.NH, C // self.NH
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = [t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v)]
        if cache is not None:  # (2, NH, maxT, hs) for batch 1
            cache[0, :, pos:pos + T] = k[0]
            cache[1, :, pos:pos + T] = v[0]
            k, v = cache[0, :, :pos + T].unsqueeze(0), cache[1, :, :pos + T].unsqueeze(0)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        if T > 1:
            S = k.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
            att = att.masked_fill(~mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x, cache=None, pos=0):
        x = x + self.attention(self.ln_1(x), cache, pos)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.wte = nn.Embedding(cfg["vocab_size"], C)
        self.wpe = nn.Embedding(cfg["n_positions"], C)
        self.h = nn.ModuleList([Block(C, cfg["n_head"], eps) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(C, eps=eps)
        for name, p in self.named_parameters():  # GPT-2's init
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["n_layer"]) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif "ln" in name and name.endswith("weight"):
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def forward(self, idx, caches=None, pos=0):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T))
        for l, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[l], pos)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied LM head


def main():
    ap = protocol_parser(__doc__, "the model's config.json (GPT2Config)", steps=10, warmup=2)
    add_phase_options(ap)
    args = ap.parse_args()
    cfg = read_config(args, seed=1)
    if args.train_only:
        print_training(GPT2(cfg), args, cfg["vocab_size"])
        return
    if args.inference_only:
        print(json.dumps(inference(GPT2(cfg), cfg, args)))
        return
    # Each phase in its own process, under the wait policy that suits it (see
    # torch_peer_common.py); this one runs no torch op meanwhile (its idle
    # OpenMP threads could spin and take a core from a child).
    train, why = run_self_in_child(["--train-only"], "training")
    if train is None:
        raise SystemExit("bench_torch_gpt2.py: " + why)
    inf = best_inference(["--inference-only"])
    print(json.dumps({
        **describe_run("PyTorch %s (scripts/bench_torch_gpt2.py)" % torch.__version__,
                       {"train": TRAIN_WAIT_POLICY, "inference": inf["wait_policy"]}),
        "num_params": train.pop("num_params"),
        "train": train,
        "inference": inf,
    }))


def inference(model, cfg, args):
    """Batch-1 prefill of seq tokens and decode at the full context (see the top)."""
    V, maxT, T = cfg["vocab_size"], cfg["n_positions"], args.seq
    C, NH, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    with torch.inference_mode():
        caches = torch.zeros(L, 2, NH, maxT, C // NH)
        prompt = torch.randint(0, V, (1, T))
        pre = timed_ms(lambda: model(prompt, caches, 0), 3)
        ctx = torch.randint(0, V, (1, maxT))
        if maxT > 1:
            model(ctx[:, :maxT - 1], caches, 0)
        dec = timed_ms(lambda: model(ctx[:, maxT - 1:], caches, maxT - 1), args.decode_steps, untimed=2)
    return inference_json(T, pre, maxT, dec)


if __name__ == "__main__":
    main()
