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
# 2.9 s ACTIVE; mamba-6m 5.0 s PASSIVE, 5.6 s default, 6.3 s ACTIVE. Decode
# went the other way (mamba-6m 6.5 ms default, 8.8 ms PASSIVE), so inference
# runs under the policy the peer was started with (tunebench starts it with
# the variable unset: the runtime's default).
TRAIN_WAIT_POLICY = "PASSIVE"


def openblas_core():
    """The kernels the system OpenBLAS (torch's BLAS here) picked, or "unknown"."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def wait_policies():
    """The policies each phase ran under, for the peer's JSON."""
    return {"train": TRAIN_WAIT_POLICY, "inference": os.environ.get("OMP_WAIT_POLICY", "default")}


def run_self_in_child(extra_args, what):
    """Runs this script again, with extra_args and under TRAIN_WAIT_POLICY (the
    policy is read when the OpenMP runtime loads, so a phase that needs another
    one needs another process). Returns (its JSON, None) or (None, why)."""
    cmd = [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:], *extra_args]
    env = dict(os.environ, OMP_WAIT_POLICY=TRAIN_WAIT_POLICY)
    child = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if child.returncode != 0:
        return None, ("%s: the process failed (exit status %d; -9 is the kernel's out-of-memory kill)"
                      % (what, child.returncode))
    return json.loads(child.stdout), None
