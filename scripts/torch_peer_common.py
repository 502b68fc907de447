"""What the PyTorch peer scripts (scripts/bench_torch_*.py) share."""
import argparse
import ctypes
import json
import os
import subprocess
import sys

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
    """An argument parser with src/bench.c's protocol options (the ones it
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


def read_config(args, torch, seed):
    """Sets the thread count and the seed; returns the parsed --config."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    with open(args.config) as f:
        return json.load(f)


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
