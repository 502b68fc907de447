#!/usr/bin/python3
"""Writes the Mamba reference fixtures for tests/test_mamba.c.

Run with Debian's torch:  /usr/bin/python3 tests/make_mamba_fixtures.py
Output: tests/fixtures/mamba/tiny.safetensors (F32 tensors only).

The model is mamba_ssm's MambaLMHeadModel written out in plain torch (no
mamba_ssm here): the Mamba mixer's reference path (use_fast_path=False, no
causal_conv1d): in_proj, Conv1d with padding d_conv-1 cut to L, SiLU, x_proj,
dt = dt_proj.weight @ dt_r, then a sequential selective scan with the
semantics of selective_scan_ref (delta = softplus(dt + dt_proj.bias),
A = -exp(A_log), D skip, z gate), out_proj. Blocks are pre-norm residual with
RMSNorm (eps 1e-5), then norm_f, and the LM head tied to the embedding. The
config is tunebench's "tiny-mamba" (d_model 32, 2 layers, d_state 4, d_conv 4,
expand 2, dt_rank 2) with a vocabulary of 50.

What the fixture holds (tokens are stored as exact small floats):
  the parameters under mamba_ssm's names (its init, then perturbed so that
  D, the norms and A_log are not at their trivial values),
  inputs / targets (B, T) (targets include ignored -100 positions),
  logits (B, T, V), losses (B, T), loss (1),
  grad.<name> for every parameter,
  10 AdamW steps: adam.inputs / adam.targets (10, B, T), adam.losses,
  adam.grad_norms (before clipping), adam.lrs, adam.final.<name>.
"""
import math

import torch
import torch.nn.functional as F

from fixture_common import B, T, write_model_fixture

V, D_MODEL, N_LAYER, D_STATE, D_CONV, EXPAND = 50, 32, 2, 4, 4, 2
D_INNER = EXPAND * D_MODEL
DT_RANK = math.ceil(D_MODEL / 16)
EPS = 1e-5
# The optimizer numbers are in fixture_common.py (and tests/test_mamba.c).

LAYER_NAMES = [
    ("mixer.in_proj.weight", (2 * D_INNER, D_MODEL)),
    ("mixer.conv1d.weight", (D_INNER, 1, D_CONV)),
    ("mixer.conv1d.bias", (D_INNER,)),
    ("mixer.x_proj.weight", (DT_RANK + 2 * D_STATE, D_INNER)),
    ("mixer.dt_proj.weight", (D_INNER, DT_RANK)),
    ("mixer.dt_proj.bias", (D_INNER,)),
    ("mixer.A_log", (D_INNER, D_STATE)),
    ("mixer.D", (D_INNER,)),
    ("mixer.out_proj.weight", (D_MODEL, D_INNER)),
    ("norm.weight", (D_MODEL,)),
]
NO_DECAY = ("mixer.A_log", "mixer.D", "mixer.dt_proj.bias", "mixer.conv1d.bias", "norm.weight")




def uniform(shape, bound):
    return (torch.rand(shape) * 2 - 1) * bound


def init_params():
    P = {"backbone.embedding.weight": torch.randn(V, D_MODEL) * 0.02}
    for l in range(N_LAYER):
        p = "backbone.layers.%d." % l
        P[p + "mixer.in_proj.weight"] = uniform((2 * D_INNER, D_MODEL), D_MODEL ** -0.5)
        P[p + "mixer.conv1d.weight"] = uniform((D_INNER, 1, D_CONV), D_CONV ** -0.5)
        P[p + "mixer.conv1d.bias"] = uniform((D_INNER,), D_CONV ** -0.5)
        P[p + "mixer.x_proj.weight"] = uniform((DT_RANK + 2 * D_STATE, D_INNER), D_INNER ** -0.5)
        P[p + "mixer.dt_proj.weight"] = uniform((D_INNER, DT_RANK), DT_RANK ** -0.5)
        dt = torch.exp(torch.rand(D_INNER) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        dt = dt.clamp(min=1e-4)
        P[p + "mixer.dt_proj.bias"] = dt + torch.log(-torch.expm1(-dt))
        A = torch.arange(1, D_STATE + 1, dtype=torch.float32).repeat(D_INNER, 1)
        # perturbed away from the init so that every gradient path is exercised
        P[p + "mixer.A_log"] = torch.log(A) + 0.1 * torch.randn(D_INNER, D_STATE)
        P[p + "mixer.D"] = 1 + 0.2 * torch.randn(D_INNER)
        P[p + "mixer.out_proj.weight"] = uniform((D_MODEL, D_INNER), D_INNER ** -0.5) / math.sqrt(N_LAYER)
        P[p + "norm.weight"] = 1 + 0.1 * torch.randn(D_MODEL)
    P["backbone.norm_f.weight"] = 1 + 0.1 * torch.randn(D_MODEL)
    for t in P.values():
        t.requires_grad_(True)
    return P


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def selective_scan(u, delta, A, Bm, Cm, Dv, z, delta_bias):
    """selective_scan_ref with delta_softplus=True. u, delta, z: (b, d, l);
    A: (d, n); Bm, Cm: (b, n, l); Dv, delta_bias: (d)."""
    delta = F.softplus(delta + delta_bias[..., None])
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, Bm, u)
    x = u.new_zeros((u.shape[0], A.shape[0], A.shape[1]))
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, Cm[:, :, i]))
    y = torch.stack(ys, dim=2) + u * Dv[:, None]
    return y * F.silu(z)


def mixer(P, p, h):
    """mamba_simple.Mamba.forward without the fast path. h: (b, l, d_model)."""
    seqlen = h.shape[1]
    xz = (h @ P[p + "in_proj.weight"].t()).transpose(1, 2)  # (b, 2di, l)
    x, z = xz.chunk(2, dim=1)
    x = F.conv1d(x, P[p + "conv1d.weight"], P[p + "conv1d.bias"], padding=D_CONV - 1,
                 groups=D_INNER)[..., :seqlen]
    x = F.silu(x)
    x_dbl = x.transpose(1, 2).reshape(-1, D_INNER) @ P[p + "x_proj.weight"].t()
    dt, Bm, Cm = torch.split(x_dbl, [DT_RANK, D_STATE, D_STATE], dim=-1)
    dt = (P[p + "dt_proj.weight"] @ dt.t()).reshape(D_INNER, -1, seqlen).transpose(0, 1)
    Bm = Bm.reshape(-1, seqlen, D_STATE).transpose(1, 2)
    Cm = Cm.reshape(-1, seqlen, D_STATE).transpose(1, 2)
    A = -torch.exp(P[p + "A_log"])
    y = selective_scan(x, dt, A, Bm, Cm, P[p + "D"], z, P[p + "dt_proj.bias"])
    return y.transpose(1, 2) @ P[p + "out_proj.weight"].t()


def forward(P, idx):
    x = P["backbone.embedding.weight"][idx]
    for l in range(N_LAYER):
        p = "backbone.layers.%d." % l
        x = x + mixer(P, p + "mixer.", rms_norm(x, P[p + "norm.weight"]))
    x = rms_norm(x, P["backbone.norm_f.weight"])
    return x @ P["backbone.embedding.weight"].t()  # tied LM head










def main():
    torch.manual_seed(4321)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(8765)
    P = init_params()
    # AdamW: decay on the matrices (embedding, projections, the conv kernel),
    # none on A_log, D, biases and norms (mamba_ssm's _no_weight_decay).
    write_model_fixture("mamba", P, forward, gen, V,
                        lambda name: not name.endswith(NO_DECAY) and not name.endswith("norm_f.weight"),
                        "tests/make_mamba_fixtures.py")


if __name__ == "__main__":
    main()
