#!/usr/bin/python3
"""PyTorch peers for `tunebench bench --model mamba-* --peer scripts/bench_torch_mamba.py`.

The same Mamba-1 (mamba_ssm's MambaLMHeadModel, reference path) in plain
torch on the CPU, timed under the protocol of src/bench.c: random tokens,
batch B x T, AdamW, the median of --steps timed steps after --warmup untimed
ones; batch-1 prefill of T tokens; batch-1 recurrent decode (Mamba.step: the
conv state rolled, the SSM state updated in place). Two scans:

  sequential  selective_scan_ref: deltaA and deltaB_u materialised as
              (b, d, l, n), then a Python loop over time. This is what
              mamba_ssm runs on a CPU (its CUDA kernel is not available).
  parallel    the same recurrence as a log-depth (Hillis-Steele) scan over
              time: log2(L) passes of h[t] += a[t] * h[t - k], a[t] *= a[t - k].

Both run; the JSON's "train" and "inference" are the faster variant's, and
"variants" holds both. A step of mamba-60m takes tens of seconds here and
over 12 GiB, so the number of timed steps is capped by --max-timed-seconds
(at least 2 steps, estimated from the warm-up step); each variant's JSON says
how many steps it timed and whether the cap applied. Both scans keep
(batch, d_inner, seq, d_state) tensors for autograd in every layer: about 3.5
of them for the sequential loop, about 2 log2(seq) + 3 for the log-depth scan
(each level's a and h). A variant whose estimate exceeds the memory available
would be killed by the kernel and take the whole peer with it, so it is
skipped, and the JSON says so with the estimate (mamba-60m's parallel scan
needs about 60 GiB at batch 8 x 256). Peak memory is the process's max RSS after each
variant (ru_maxrss only grows, so the sequential one runs first and the
parallel figure is the max of the two). Prints one JSON document to stdout.
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import json
import math
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_peer_common import openblas_core

EPS = 1e-5


class Mixer(nn.Module):
    def __init__(self, d_model, d_state, d_conv, expand, dt_rank):
        super().__init__()
        di = expand * d_model
        self.di, self.S, self.K, self.R = di, d_state, d_conv, dt_rank
        self.in_proj = nn.Linear(d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(di, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, di, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d_model, bias=False)

    def forward(self, h, scan):
        L = h.shape[1]
        xz = self.in_proj(h).transpose(1, 2)
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :L])
        x_dbl = self.x_proj(x.transpose(1, 2))
        dt, Bm, Cm = torch.split(x_dbl, [self.R, self.S, self.S], dim=-1)
        delta = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias).transpose(1, 2)
        A = -torch.exp(self.A_log)
        deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
        deltaB_u = torch.einsum("bdl,bln,bdl->bdln", delta, Bm, x)
        hs = scan(deltaA, deltaB_u)  # (b, d, l, n)
        y = torch.einsum("bdln,bln->bdl", hs, Cm) + x * self.D[:, None]
        y = y * F.silu(z)
        return self.out_proj(y.transpose(1, 2))

    @torch.no_grad()
    def step(self, h, conv_state, ssm_state):
        xz = self.in_proj(h)
        x, z = xz.chunk(2, dim=-1)
        conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
        conv_state[:, :, -1] = x
        x = F.silu(torch.sum(conv_state * self.conv1d.weight.squeeze(1), dim=-1) + self.conv1d.bias)
        dt, Bm, Cm = torch.split(self.x_proj(x), [self.R, self.S, self.S], dim=-1)
        dt = F.softplus(F.linear(dt, self.dt_proj.weight) + self.dt_proj.bias)
        A = -torch.exp(self.A_log)
        dA = torch.exp(torch.einsum("bd,dn->bdn", dt, A))
        dB = torch.einsum("bd,bn->bdn", dt, Bm)
        ssm_state.copy_(ssm_state * dA + x.unsqueeze(-1) * dB)
        y = torch.einsum("bdn,bn->bd", ssm_state, Cm) + self.D * x
        return self.out_proj(y * F.silu(z))


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


class MambaLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ssm = cfg["ssm_cfg"]
        d, V = cfg["d_model"], cfg["vocab_size"]
        R = ssm.get("dt_rank", "auto")
        R = math.ceil(d / 16) if R == "auto" else R
        self.embedding = nn.Embedding(V, d)
        self.mixers = nn.ModuleList(
            Mixer(d, ssm["d_state"], ssm["d_conv"], ssm["expand"], R) for _ in range(cfg["n_layer"]))
        self.norms = nn.ParameterList(nn.Parameter(torch.ones(d)) for _ in range(cfg["n_layer"]))
        self.norm_f = nn.Parameter(torch.ones(d))

    def forward(self, idx, scan):
        x = self.embedding(idx)
        for mixer, w in zip(self.mixers, self.norms):
            x = x + mixer(rms_norm(x, w), scan)
        return rms_norm(x, self.norm_f) @ self.embedding.weight.t()

    @torch.no_grad()
    def step(self, tok, states):
        x = self.embedding(tok)
        for mixer, w, (cs, ss) in zip(self.mixers, self.norms, states):
            x = x + mixer.step(rms_norm(x, w), cs, ss)
        return rms_norm(x, self.norm_f) @ self.embedding.weight.t()


def scan_sequential(a, bu):
    """selective_scan_ref's loop over time."""
    h = a.new_zeros(a.shape[0], a.shape[1], a.shape[3])
    hs = []
    for i in range(a.shape[2]):
        h = a[:, :, i] * h + bu[:, :, i]
        hs.append(h)
    return torch.stack(hs, dim=2)


def scan_parallel(a, bu):
    """Hillis-Steele inclusive scan of h[t] = a[t] h[t-1] + bu[t] over dim 2."""
    L, k = a.shape[2], 1
    while k < L:
        bu = torch.cat([bu[:, :, :k], a[:, :, k:] * bu[:, :, :-k] + bu[:, :, k:]], dim=2)
        a = torch.cat([a[:, :, :k], a[:, :, k:] * a[:, :, :-k]], dim=2)
        k *= 2
    return bu


def estimated_bytes(cfg, args, variant):
    """Rough autograd memory of one training step: (b, d, l, n) tensors kept per layer."""
    ssm = cfg["ssm_cfg"]
    one = args.batch * ssm["expand"] * cfg["d_model"] * args.seq * ssm["d_state"] * 4
    per_layer = 3.5 if variant == "sequential" else 2 * math.ceil(math.log2(max(args.seq, 2))) + 3
    return cfg["n_layer"] * per_layer * one


def available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def measure(model, scan, args, V):
    gen = torch.Generator().manual_seed(1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    times, warm = [], []
    steps, capped = args.steps, False
    it = 0
    while it < args.warmup + steps:
        idx = torch.randint(0, V, (args.batch, args.seq), generator=gen)
        tgt = torch.randint(0, V, (args.batch, args.seq), generator=gen)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(idx, scan).view(-1, V), tgt.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if it >= args.warmup:
            times.append(dt)
        else:
            warm.append(dt)
            if it == args.warmup - 1 and dt * steps > args.max_timed_seconds:
                steps, capped = max(2, int(args.max_timed_seconds // dt)), True
        it += 1
    step_s = statistics.median(times)
    prefill = []
    with torch.no_grad():
        for _ in range(3):
            idx = torch.randint(0, V, (1, args.seq), generator=gen)
            t0 = time.perf_counter()
            model(idx, scan)
            prefill.append(time.perf_counter() - t0)
    return {
        "train": {"step_ms": [t * 1e3 for t in times], "step_ms_median": step_s * 1e3,
                  "tokens_per_s": args.batch * args.seq / step_s,
                  "warmup_steps": args.warmup, "timed_steps": len(times),
                  "steps_capped": capped,
                  "warmup_step_ms": [t * 1e3 for t in warm]},
        "inference": {"prefill_ms_median": statistics.median(prefill) * 1e3},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def measure_decode(model, cfg, args):
    ssm = cfg["ssm_cfg"]
    di = ssm["expand"] * cfg["d_model"]
    states = [(torch.zeros(1, di, ssm["d_conv"]), torch.zeros(1, di, ssm["d_state"]))
              for _ in range(cfg["n_layer"])]
    tok = torch.zeros(1, dtype=torch.long)
    times = []
    for i in range(5 + args.decode_steps):
        t0 = time.perf_counter()
        model.step(tok, states)
        if i >= 5:
            times.append(time.perf_counter() - t0)
    return {"decode_ms": [t * 1e3 for t in times],
            "decode_ms_per_token_median": statistics.median(times) * 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the model's config.json (MambaConfig)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-steps", type=int, default=20)
    ap.add_argument("--variants", default="sequential,parallel")
    ap.add_argument("--max-timed-seconds", type=float, default=120.0,
                    help="cap on the timed steps' total time per variant (at least 2 steps)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.config) as f:
        cfg = json.load(f)
    model = MambaLM(cfg)
    scans = {"sequential": scan_sequential, "parallel": scan_parallel}
    variants = {}
    for name in args.variants.split(","):
        if name not in scans:
            sys.exit("bench_torch_mamba.py: unknown variant '%s' (sequential, parallel)" % name)
        need, have = estimated_bytes(cfg, args, name), available_bytes()
        if have is not None and need > 0.9 * have:
            variants[name] = {"skipped": "estimated %.1f GiB of autograd tensors, %.1f GiB available"
                                         % (need / 2**30, have / 2**30)}
            continue
        variants[name] = measure(model, scans[name], args, cfg["vocab_size"])
    ran = [n for n in variants if "train" in variants[n]]
    if not ran:
        sys.exit("bench_torch_mamba.py: no variant fits in memory (%s)" % json.dumps(variants))
    best = max(ran, key=lambda n: variants[n]["train"]["tokens_per_s"])
    decode = measure_decode(model, cfg, args)
    core = openblas_core()
    out = {
        "implementation": "PyTorch %s, mamba_ssm reference path (%s scan is the faster)" % (torch.__version__, best),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "openblas_core": core,
        "blas": re.findall(r"(?:BLAS|LAPACK)_INFO=[^,]*", torch.__config__.show()),
        "params": sum(p.numel() for p in model.parameters()),
        "train": variants[best]["train"],
        "inference": dict(variants[best]["inference"], **decode),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "variants": variants,
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
