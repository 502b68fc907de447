"""What the PyTorch peer scripts (scripts/bench_torch_*.py) share."""
import ctypes
import json
import os
import subprocess
import sys

# The OpenMP wait policy a peer trains under. torch here runs its own OpenMP
# threads next to OpenBLAS's pthreads (Debian's build): with ACTIVE, idle
# OpenMP threads spin through every matmul and take a core from OpenBLAS.
# Same-session A/Bs, medians per step: gpt2-6m 1.3 s PASSIVE, 1.8 s default,
# 2.9 s ACTIVE; mamba-6m 5.0 s PASSIVE, 5.6 s default, 6.3 s ACTIVE.
TRAIN_WAIT_POLICY = "PASSIVE"
# Inference has no policy that is best everywhere (mamba-6m decode: 6.5 ms
# default, 8.8 ms PASSIVE; gpt2-60m decode: about 24 ms PASSIVE, 120 ms
# default), so it runs under each of these and the peer keeps the faster.
INFERENCE_WAIT_POLICIES = ("PASSIVE", "default")


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
