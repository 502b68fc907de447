"""What the PyTorch peer scripts (scripts/bench_torch_*.py) share: the
protocol's options, the child processes and wait policies each phase runs
under, the training and timing loops, and the fields that describe a run."""
import argparse
import ctypes
import json
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

# The OpenMP wait policy a peer trains under. torch here runs its own OpenMP
# threads next to OpenBLAS's pthreads (Debian's build): with ACTIVE, idle
# OpenMP threads spin through every matmul and take a core from OpenBLAS.
# Same-session A/Bs, medians per step over two runs each: gpt2-6m 1.2-1.3 s
# PASSIVE, 1.6-1.8 s default, 2.5-3.1 s ACTIVE; mamba-6m 4.9-5.2 s PASSIVE,
# 5.6 s default, 6.3 s ACTIVE.
TRAIN_WAIT_POLICY = "PASSIVE"
# Inference has no policy that is best everywhere (mamba-6m decode: 6.5 ms
# default, 8.6-9.0 ms PASSIVE; gpt2-60m decode in two bench runs: 25-33 ms
# PASSIVE, 96-118 ms default), so it runs under each of these and the peer
# keeps the faster.
INFERENCE_WAIT_POLICIES = ("PASSIVE", "default")


def protocol_parser(doc, config_help, steps, warmup):
    """An argument parser with bench/bench.c's protocol options (the ones it
    passes to every peer); each script adds its own after them."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--config", required=True, help=config_help)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-steps", type=int, default=20)
    return ap


def add_phase_options(ap, train_variants=None):
    """Adds the (internal) options that run one phase in a child process:
    --train-only (naming one of train_variants, where there are some) and
    --inference-only."""
    if train_variants:
        ap.add_argument("--train-only", choices=train_variants,
                        help="(internal) time the training steps of one variant and print their JSON")
    else:
        ap.add_argument("--train-only", action="store_true",
                        help="(internal) time the training steps and print their JSON")
    ap.add_argument("--inference-only", action="store_true",
                    help="(internal) time prefill and decode and print their JSON")


def read_config(args, seed):
    """Sets the thread count and the seed; returns the parsed --config."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    with open(args.config) as f:
        return json.load(f)


def train_steps(model, args, V, logits_of=lambda model, idx: model(idx)):
    """Median step time of the training protocol that the GPT-2 and LSTM
    peers state at their tops: zero_grad + forward (logits_of) +
    cross-entropy + backward + clip_grad_norm_(1.0) + foreach AdamW (betas
    0.9/0.95, eps 1e-8, weight decay 0.1 on 2-D weights) at batch x seq on
    random tokens, after --warmup untimed steps. Returns its JSON."""
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
        loss = F.cross_entropy(logits_of(model, idx).view(-1, V), tgt.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(dt * 1e3)
    step_ms = statistics.median(times)
    return {"step_ms_median": step_ms, "step_ms": times, "tokens_per_s": B * T / (step_ms * 1e-3),
            "last_loss": loss.item()}


def print_training(model, args, V, logits_of=lambda model, idx: model(idx)):
    """The --train-only phase: train_steps' JSON, with the parameter count."""
    out = train_steps(model, args, V, logits_of)
    out["num_params"] = sum(p.numel() for p in model.parameters())
    print(json.dumps(out))


def timed_ms(fn, reps, untimed=0):
    """Calls fn() untimed + reps times; the wall times of the last reps, in ms."""
    times = []
    for r in range(untimed + reps):
        t0 = time.perf_counter()
        fn()
        if r >= untimed:
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def inference_json(prefill_tokens, prefill_ms, decode_context, decode_ms):
    """The inference phase's JSON: per-call times and their medians."""
    return {"prefill_tokens": prefill_tokens, "prefill_ms_median": statistics.median(prefill_ms),
            "prefill_ms": prefill_ms, "decode_context": decode_context,
            "decode_ms_per_token_median": statistics.median(decode_ms), "decode_ms": decode_ms}


def describe_run(implementation, omp_wait_policy):
    """The fields every peer's JSON starts with: what ran, on how many
    threads, under which OpenMP wait policies, on which BLAS and kernels."""
    return {
        "implementation": implementation,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": omp_wait_policy,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "blas": re.findall(r"(?:BLAS|LAPACK)_INFO=[^,]*", torch.__config__.show()),
        "openblas_core": openblas_core(),
    }


def openblas_core():
    """The kernels the system OpenBLAS (torch's BLAS here) picked, or "unknown"."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def run_self_in_child(extra_args, what, policy=TRAIN_WAIT_POLICY):
    """Runs this script again with extra_args, under OMP_WAIT_POLICY=policy
    ("default": unset). The policy is read when the OpenMP runtime loads, so
    each policy needs its own process. Returns (its JSON, None) or (None, why)."""
    cmd = [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:], *extra_args]
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    child = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if child.returncode != 0:
        return None, ("%s: the process failed (exit status %d; -9 is the kernel's out-of-memory kill)"
                      % (what, child.returncode))
    return json.loads(child.stdout), None


def best_inference(extra_args):
    """Runs the inference phase (this script with extra_args) under each of
    INFERENCE_WAIT_POLICIES. Returns {metric: the lowest median over the
    policies, ..., "wait_policy": {metric: the policy that gave it},
    "by_wait_policy": every run's JSON, with its per-step times}; metrics are
    the keys ending in "_median". Exits if no run succeeded."""
    runs, errors = {}, []
    for policy in INFERENCE_WAIT_POLICIES:
        out, why = run_self_in_child(extra_args, "inference under %s" % policy, policy)
        if out is None:
            errors.append(why)
        else:
            runs[policy] = out
    if not runs:
        raise SystemExit("%s: %s" % (os.path.basename(sys.argv[0]), "; ".join(errors)))
    best, chosen = {}, {}
    for metric in next(iter(runs.values())):
        if metric.endswith("_median"):
            policy = min(runs, key=lambda p: runs[p][metric])
            best[metric], chosen[metric] = runs[policy][metric], policy
    for key, value in next(iter(runs.values())).items():  # shapes: the same in every run
        if not isinstance(value, list):
            best.setdefault(key, value)
    best["wait_policy"] = chosen
    best["by_wait_policy"] = runs
    return best
