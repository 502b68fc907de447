#!/usr/bin/python3
"""Writes the GPT-2 reference fixtures for tests/test_gpt2.c.

Run with Debian's torch:  /usr/bin/python3 tests/make_gpt2_fixtures.py
Output: tests/fixtures/gpt2/tiny.safetensors (F32 tensors only).

The model is Hugging Face's GPT2LMHeadModel written out in plain torch (no
transformers here), op for op as modeling_gpt2.py computes it: Conv1D as
addmm with (in, out) weights, attention scores divided by sqrt(head_dim),
the causal mask filled with finfo.min, softmax, gelu_new, LayerNorm eps 1e-5,
the LM head tied to wte. The config is tunebench's "tiny-gpt2" (n_embd 32,
n_layer 2, n_head 4, n_positions 16) with a vocabulary of 50.

What the fixture holds (tokens are stored as exact small floats):
  the parameters under their HF names (GPT-2's init from torch's RNG),
  inputs / targets (B, T) (targets include ignored -100 positions),
  logits (B, T, V), losses (B, T), loss (1),
  grad.<name> for every parameter (d mean loss / d param),
  10 AdamW steps on the batches adam.inputs / adam.targets (10, B, T):
  adam.losses (10), adam.grad_norms (10, before clipping), adam.lrs (10),
  and adam.final.<name>, the parameters after the 10th update.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

V, C, L, NH, MAXT = 50, 32, 2, 4, 16
B, T = 2, 16
HS = C // NH
EPS = 1e-5
# Optimizer (the same numbers are in tests/test_gpt2.c).
LR, MIN_LR, WARMUP, TOTAL = 1e-2, 1e-3, 3, 10
BETAS, ADAM_EPS, WD, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0

LAYER_NAMES = [
    ("ln_1.weight", (C,)), ("ln_1.bias", (C,)),
    ("attn.c_attn.weight", (C, 3 * C)), ("attn.c_attn.bias", (3 * C,)),
    ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
    ("ln_2.weight", (C,)), ("ln_2.bias", (C,)),
    ("mlp.c_fc.weight", (C, 4 * C)), ("mlp.c_fc.bias", (4 * C,)),
    ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,)),
]


def f32(x):
    """Rounds a Python float to fp32, as the C code's float variables do."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def init_params():
    """GPT2PreTrainedModel._init_weights: N(0, 0.02); c_proj N(0, 0.02/sqrt(2L));
    biases 0; LayerNorm weight 1. Biases and LN get random values here instead,
    so that their gradients are exercised away from the trivial init."""
    P = {"transformer.wte.weight": torch.randn(V, C) * 0.02,
         "transformer.wpe.weight": torch.randn(MAXT, C) * 0.02}
    for l in range(L):
        for name, shape in LAYER_NAMES:
            full = "transformer.h.%d.%s" % (l, name)
            if len(shape) == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
                P[full] = torch.randn(*shape) * std
            elif name.startswith("ln_") and name.endswith("weight"):
                P[full] = 1.0 + 0.1 * torch.randn(*shape)
            else:
                P[full] = 0.02 * torch.randn(*shape)
    P["transformer.ln_f.weight"] = 1.0 + 0.1 * torch.randn(C)
    P["transformer.ln_f.bias"] = 0.02 * torch.randn(C)
    # Larger embeddings make the logits, and so the test, less trivial.
    P["transformer.wte.weight"] *= 10.0
    return {k: v.float().requires_grad_(True) for k, v in P.items()}


def conv1d(x, w, b):
    """HF Conv1D: x @ w + b with w stored (in, out)."""
    shape = x.shape[:-1] + (w.shape[1],)
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(shape)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def attention(P, p, x):
    Bx, Tx, _ = x.shape
    qkv = conv1d(x, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"])
    q, k, v = qkv.split(C, dim=2)
    q, k, v = [t.view(Bx, Tx, NH, HS).permute(0, 2, 1, 3) for t in (q, k, v)]
    w = torch.matmul(q, k.transpose(-1, -2))
    w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
    causal = torch.tril(torch.ones(Tx, Tx, dtype=torch.bool)).view(1, 1, Tx, Tx)
    w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
    w = torch.softmax(w, dim=-1)
    y = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(Bx, Tx, C)
    return conv1d(y, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])


def forward(P, idx):
    Bx, Tx = idx.shape
    x = P["transformer.wte.weight"][idx] + P["transformer.wpe.weight"][torch.arange(Tx)]
    for l in range(L):
        p = "transformer.h.%d." % l
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], EPS)
        x = x + attention(P, p, h)
        h = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], EPS)
        h = gelu_new(conv1d(h, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"]))
        x = x + conv1d(h, P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], EPS)
    return F.linear(x, P["transformer.wte.weight"])  # tied LM head


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
    header["__metadata__"] = {"format": "pt", "source": "tests/make_gpt2_fixtures.py"}
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
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(5678)
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

    # AdamW: decay on 2-D weights (embeddings included), none on biases/LN.
    for p in P.values():
        p.grad = None
    decay = [p for p in P.values() if p.dim() == 2]
    no_decay = [p for p in P.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS, foreach=False)
    steps = 10
    a_in, a_tgt, a_loss, a_norm, a_lr = [], [], [], [], []
    for step in range(1, steps + 1):
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
    os.makedirs(os.path.join(here, "fixtures", "gpt2"), exist_ok=True)
    path = os.path.join(here, "fixtures", "gpt2", "tiny.safetensors")
    write_safetensors(path, out)
    print("wrote %s (%d tensors); loss %.6f, adam losses %s" %
          (path, len(out), out["loss"].item(), ", ".join("%.4f" % x for x in a_loss)))


if __name__ == "__main__":
    main()
