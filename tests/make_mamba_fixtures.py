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
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

V, D_MODEL, N_LAYER, D_STATE, D_CONV, EXPAND = 50, 32, 2, 4, 4, 2
D_INNER = EXPAND * D_MODEL
DT_RANK = math.ceil(D_MODEL / 16)
B, T = 2, 16
EPS = 1e-5
# Optimizer (the same numbers are in tests/test_mamba.c).
LR, MIN_LR, WARMUP, TOTAL = 1e-2, 1e-3, 3, 10
BETAS, ADAM_EPS, WD, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0

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


def f32(x):
    """Rounds a Python float to fp32, as the C code's float variables do."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


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


def losses_of(logits, targets):
    per = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100, reduction="none")
    return per, F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100)


def lr_at(step):
    """models/model.c's optim_lr_at, with its fp32/double roundings."""
    if step <= WARMUP:
        return f32(f32(f32(LR) * float(step)) / float(WARMUP))
    if step >= TOTAL:
        return f32(MIN_LR)
    progress = (step - WARMUP) / (TOTAL - WARMUP)
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))
    return f32(f32(MIN_LR) + coeff * (f32(LR) - f32(MIN_LR)))


def random_batch(gen):
    idx = torch.randint(0, V, (B, T), generator=gen)
    tgt = torch.randint(0, V, (B, T), generator=gen)
    tgt[0, 0] = -100  # ignored positions
    tgt[1, 5] = -100
    return idx, tgt


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", "source": "tests/make_mamba_fixtures.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def main():
    torch.manual_seed(4321)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(8765)
    P = init_params()
    out = {name: p.detach().clone() for name, p in P.items()}

    idx, tgt = random_batch(gen)
    logits = forward(P, idx)
    per, loss = losses_of(logits, tgt)
    loss.backward()
    out["inputs"] = idx.float()
    out["targets"] = tgt.float()
    out["logits"] = logits.detach()
    out["losses"] = per.detach().view(B, T)
    out["loss"] = loss.detach().view(1)
    for name, p in P.items():
        out["grad." + name] = p.grad.detach().clone()

    # AdamW: decay on the matrices (embedding, projections, the conv kernel),
    # none on A_log, D, biases and norms (mamba_ssm's _no_weight_decay).
    for p in P.values():
        p.grad = None
    decay = [p for n, p in P.items() if not n.endswith(NO_DECAY) and not n.endswith("norm_f.weight")]
    no_decay = [p for n, p in P.items() if n.endswith(NO_DECAY) or n.endswith("norm_f.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS, foreach=False)
    a_in, a_tgt, a_loss, a_norm, a_lr = [], [], [], [], []
    for step in range(1, 11):
        idx, tgt = random_batch(gen)
        opt.zero_grad(set_to_none=True)
        _, loss = losses_of(forward(P, idx), tgt)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
        lr = lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        a_in.append(idx.float()), a_tgt.append(tgt.float())
        a_loss.append(loss.item()), a_norm.append(norm.item()), a_lr.append(lr)
    out["adam.inputs"] = torch.stack(a_in)
    out["adam.targets"] = torch.stack(a_tgt)
    out["adam.losses"] = torch.tensor(a_loss)
    out["adam.grad_norms"] = torch.tensor(a_norm)
    out["adam.lrs"] = torch.tensor(a_lr)
    for name, p in P.items():
        out["adam.final." + name] = p.detach().clone()

    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "fixtures", "mamba"), exist_ok=True)
    path = os.path.join(here, "fixtures", "mamba", "tiny.safetensors")
    write_safetensors(path, out)
    print("wrote %s (%d tensors); loss %.6f, adam losses %s" %
          (path, len(out), out["loss"].item(), ", ".join("%.4f" % x for x in a_loss)))


if __name__ == "__main__":
    main()
