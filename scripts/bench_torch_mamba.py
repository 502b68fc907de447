#!/usr/bin/python3
"""PyTorch peers for `tunebench bench --model mamba-* --peer scripts/bench_torch_mamba.py`.

The same Mamba-1 (mamba_ssm's MambaLMHeadModel, reference path) in plain
torch on the CPU, timed under the protocol of bench/bench.c: random tokens,
batch B x T, AdamW, the median of --steps timed steps after --warmup untimed
ones; batch-1 prefill of T tokens; batch-1 recurrent decode (Mamba.step: the
conv state rolled, the SSM state updated in place). Two scans:

  sequential  selective_scan_ref: deltaA and deltaB_u materialised as
              (b, d, l, n), then a Python loop over time that updates the
              state and contracts it with C_t into y_t. This is what
              mamba_ssm runs on a CPU (its CUDA kernel is not available).
              The loop walks `unbind(2)` views rather than indexing
              `deltaA[:, :, i]` as the reference does: same arithmetic, but
              indexing's backward writes each step's gradient into a fresh
              zero tensor of the full (b, d, l, n) shape, O(l^2) memory
              traffic (184 s a step for mamba-6m here, against about 5 s).
  parallel    the same recurrence as a log-depth scan in two levels: a
              Hillis-Steele scan inside chunks of SCAN_CHUNK steps (which
              also yields each chunk's running product of a), the same scan
              recursively over the chunks' final states, then one pass that
              adds each chunk's incoming state. Fewer full-size passes and
              tensors than one Hillis-Steele scan over the whole sequence.

Both run; the JSON's "train" and "inference" are the faster variant's, and
"variants" holds both. A step of mamba-60m takes tens of seconds here, so the
number of timed steps is capped by --max-timed-seconds (at least 2 steps,
estimated from the warm-up step); each variant's JSON says how many steps it
timed and whether the cap applied.

Memory. Each step keeps (batch, seq, d_inner, d_state) tensors for autograd
in every layer: about 5 of them for the sequential loop (deltaA and every
step's state, plus the backward's temporaries) and about 20 for the parallel
scan, as measured by peak RSS. When a variant's estimate exceeds the memory
available, its residual blocks run under activation checkpointing
(torch.utils.checkpoint: one layer's tensors live at a time, and each
block's forward runs twice), which is what a PyTorch user would do. It is the
reentrant form: with torch 1.13 the non-reentrant one kept as much memory as
no checkpointing at all (mamba-60m's parallel scan at batch 2: 10.1 GB
against 2.0 GB). The variant's JSON says so, with the estimate.

Processes. Each variant trains in its own process, under TRAIN_WAIT_POLICY
(scripts/torch_peer_common.py). So it starts with the machine's memory free,
and its peak memory is that process's max RSS; the top-level figure is the
faster variant's. Decode runs in one more process under each of
INFERENCE_WAIT_POLICIES, and the faster counts. Prints one JSON document to stdout. Run with /usr/bin/python3 (Debian's
python3-torch).
"""
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from torch_peer_common import (TRAIN_WAIT_POLICY, best_inference, describe_run, protocol_parser,
                               read_config, run_self_in_child, timed_ms)

EPS = 1e-5
SCAN_CHUNK = 4  # the parallel scan's inner chunk: the fastest of 4, 8, 16 here


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
        delta = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias)  # (b, l, d)
        A = -torch.exp(self.A_log)
        # The scan's operands with time outermost, so that each step reads
        # contiguous (b, d, n) slices: (l, b, d, n), (l, b, n).
        delta_t = delta.transpose(0, 1)
        deltaA = torch.exp(delta_t.unsqueeze(-1) * A)
        deltaB_u = (delta_t * x.permute(2, 0, 1)).unsqueeze(-1) * Bm.transpose(0, 1).unsqueeze(2)
        y = scan(deltaA, deltaB_u, Cm.transpose(0, 1)).permute(1, 2, 0)  # (b, d, l)
        y = y + x * self.D[:, None]
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

    def forward(self, idx, scan, checkpoint=False):
        x = self.embedding(idx)
        for mixer, w in zip(self.mixers, self.norms):
            def block(x, mixer=mixer, w=w):
                return mixer(rms_norm(x, w), scan)
            if checkpoint and torch.is_grad_enabled():
                x = x + torch.utils.checkpoint.checkpoint(block, x, use_reentrant=True)
            else:
                x = x + block(x)
        return rms_norm(x, self.norm_f) @ self.embedding.weight.t()

    @torch.no_grad()
    def step(self, tok, states):
        x = self.embedding(tok)
        for mixer, w, (cs, ss) in zip(self.mixers, self.norms, states):
            x = x + mixer.step(rms_norm(x, w), cs, ss)
        return rms_norm(x, self.norm_f) @ self.embedding.weight.t()


def scan_sequential(a, bu, C):
    """selective_scan_ref's loop over time: a, bu (l, b, d, n), C (l, b, n) -> y (l, b, d)."""
    h = a.new_zeros(a.shape[1:])
    ys = []
    for a_t, bu_t, c_t in zip(a.unbind(0), bu.unbind(0), C.unbind(0)):
        h = torch.addcmul(bu_t, a_t, h)
        ys.append(torch.bmm(h, c_t.unsqueeze(-1)).squeeze(-1))  # einsum bdn,bn->bd
    return torch.stack(ys, dim=0)


def hillis_steele(a, bu):
    """Inclusive scan of h[t] = a[t] h[t-1] + bu[t] along dim 0, in log2(len) passes.
    Returns (running product of a, h)."""
    L, k = a.shape[0], 1
    while k < L:
        bu = torch.cat([bu[:k], torch.addcmul(bu[k:], a[k:], bu[:-k])], dim=0)
        a = torch.cat([a[:k], a[k:] * a[:-k]], dim=0)
        k *= 2
    return a, bu


def scan_chunked(a, bu):
    """Two-level log-depth scan over dim 0 of (l, ...): (running product of a, h)."""
    L, rest = a.shape[0], a.shape[1:]
    T = SCAN_CHUNK
    if L <= T:
        return hillis_steele(a, bu)
    nc = -(-L // T)
    if nc * T != L:  # pad with a = 1, bu = 0: the padded steps carry the state unchanged
        pad = (0, 0) * len(rest) + (0, nc * T - L)
        a, bu = F.pad(a, pad, value=1.0), F.pad(bu, pad)
    # Chunks outermost: (nc, T, ...) -> scan within each chunk along dim 1.
    a, bu = hillis_steele(a.reshape(nc, T, *rest).transpose(0, 1), bu.reshape(nc, T, *rest).transpose(0, 1))
    _, h_end = scan_chunked(a[-1], bu[-1])  # (nc, ...): the state at each chunk's end
    h_in = torch.cat([torch.zeros_like(h_end[:1]), h_end[:-1]], dim=0)
    h = torch.addcmul(bu, a, h_in.unsqueeze(0))  # (T, nc, ...)
    return (a.transpose(0, 1).reshape(nc * T, *rest)[:L], h.transpose(0, 1).reshape(nc * T, *rest)[:L])


def scan_parallel(a, bu, C):
    """The log-depth scan, then y[t] = C[t] . h[t]: a, bu (l, b, d, n), C (l, b, n) -> y (l, b, d)."""
    return torch.einsum("lbdn,lbn->lbd", scan_chunked(a, bu)[1], C)


def check_scans_agree():
    """The two scans compute the same y (float64, lengths that the chunk does and does not divide)."""
    gen = torch.Generator().manual_seed(0)
    for L in (3, SCAN_CHUNK, 37):
        a = torch.rand(L, 2, 3, 4, generator=gen, dtype=torch.float64)
        bu = torch.randn(L, 2, 3, 4, generator=gen, dtype=torch.float64)
        C = torch.randn(L, 2, 4, generator=gen, dtype=torch.float64)
        err = (scan_parallel(a, bu, C) - scan_sequential(a, bu, C)).abs().max().item()
        if err > 1e-12:
            sys.exit("bench_torch_mamba.py: the parallel scan differs from the sequential one by %g (L=%d)" % (err, L))


def estimated_bytes(cfg, args, variant):
    """Rough autograd memory of one training step: (b, d, l, n) tensors kept per
    layer (PER_LAYER_STATES, from measured peak RSS), plus one layer's worth of
    temporaries during its backward."""
    ssm = cfg["ssm_cfg"]
    one = args.batch * ssm["expand"] * cfg["d_model"] * args.seq * ssm["d_state"] * 4
    per_layer = PER_LAYER_STATES[variant]
    return (cfg["n_layer"] + 1) * per_layer * one


PER_LAYER_STATES = {"sequential": 5.0, "parallel": 20.0}


def available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def measure(model, scan, args, V, checkpoint):
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
        loss = F.cross_entropy(model(idx, scan, checkpoint).view(-1, V), tgt.view(-1))
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
    times = timed_ms(lambda: model.step(tok, states), args.decode_steps, untimed=5)
    return {"decode_ms": times, "decode_ms_per_token_median": statistics.median(times)}


def main():
    ap = protocol_parser(__doc__, "the model's config.json (MambaConfig)", steps=3, warmup=1)
    ap.add_argument("--variants", default="sequential,parallel")
    ap.add_argument("--checkpoint", choices=["auto", "always", "never"], default="auto",
                    help="activation checkpointing of the residual blocks (auto: when a "
                         "variant's estimate exceeds 90%% of the memory available)")
    ap.add_argument("--max-timed-seconds", type=float, default=120.0,
                    help="cap on the timed steps' total time per variant (at least 2 steps)")
    ap.add_argument("--decode-only", action="store_true",
                    help="(internal) time the recurrent decode step and print its JSON")
    ap.add_argument("--one-variant", action="store_true",
                    help="(internal) time the one variant in --variants and print its JSON")
    args = ap.parse_args()
    cfg = read_config(args, seed=0)
    scans = {"sequential": scan_sequential, "parallel": scan_parallel}
    names = args.variants.split(",")
    for name in names:
        if name not in scans:
            sys.exit("bench_torch_mamba.py: unknown variant '%s' (sequential, parallel)" % name)
    if args.one_variant:
        check_scans_agree()
        json.dump(run_variant(cfg, args, names[0], scans[names[0]]), sys.stdout)
        return
    if args.decode_only:
        json.dump(measure_decode(MambaLM(cfg), cfg, args), sys.stdout)
        return
    # Each variant in its own process: it starts with the machine's memory
    # free (glibc, told to keep what it frees, would hold one variant's
    # memory through the next) and its peak RSS is its own, and it trains under
    # TRAIN_WAIT_POLICY. This process runs no torch op until they end: under
    # OMP_WAIT_POLICY=ACTIVE its idle OpenMP threads would spin through a
    # child's run and take a core from it.
    variants = {name: run_child(args, name) for name in names}
    ran = [n for n in variants if "train" in variants[n]]
    if not ran:
        sys.exit("bench_torch_mamba.py: no variant ran (%s)" % json.dumps(variants))
    best = max(ran, key=lambda n: variants[n]["train"]["tokens_per_s"])
    decode = best_inference(["--decode-only"])
    model = MambaLM(cfg)
    out = {
        **describe_run("PyTorch %s, mamba_ssm reference path (%s scan is the faster)"
                       % (torch.__version__, best),
                       {"train_and_prefill": TRAIN_WAIT_POLICY, "decode": decode["wait_policy"]}),
        "params": sum(p.numel() for p in model.parameters()),
        "train": variants[best]["train"],
        "inference": dict(variants[best]["inference"], **decode),
        "peak_rss_mb": variants[best]["peak_rss_mb"],
        "peak_rss_note": "the faster variant's training process (each variant runs in its own)",
        "variants": variants,
    }
    json.dump(out, sys.stdout, indent=1)
    print()


def run_variant(cfg, args, name, scan):
    """Times one variant in this process: its JSON, or why it was skipped."""
    need, have = estimated_bytes(cfg, args, name), available_bytes()
    fits = have is None or need <= 0.9 * have
    checkpoint = not fits if args.checkpoint == "auto" else args.checkpoint == "always"
    one_layer = 2 * need / (cfg["n_layer"] + 1)
    if checkpoint and have is not None and one_layer > 0.9 * have:
        return {"skipped": "estimated %.1f GiB for one layer under checkpointing, %.1f GiB available"
                           % (one_layer / 2**30, have / 2**30)}
    out = measure(MambaLM(cfg), scan, args, cfg["vocab_size"], checkpoint)
    out["activation_checkpointing"] = checkpoint
    out["estimated_autograd_gib_without_checkpointing"] = need / 2**30
    out["available_gib_at_start"] = have / 2**30 if have is not None else None
    return out


def run_child(args, name):
    """run_variant in a fresh process (this script with --one-variant)."""
    out, why = run_self_in_child(["--variants", name, "--one-variant"], "the %s variant" % name)
    return out if out is not None else {"skipped": why}


if __name__ == "__main__":
    main()
