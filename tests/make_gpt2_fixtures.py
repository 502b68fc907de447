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
import math

import torch
import torch.nn.functional as F

from fixture_common import B, T, write_model_fixture

V, C, L, NH, MAXT = 50, 32, 2, 4, 16
HS = C // NH
EPS = 1e-5
# The optimizer numbers are in fixture_common.py (and tests/test_gpt2.c).

LAYER_NAMES = [
    ("ln_1.weight", (C,)), ("ln_1.bias", (C,)),
    ("attn.c_attn.weight", (C, 3 * C)), ("attn.c_attn.bias", (3 * C,)),
    ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
    ("ln_2.weight", (C,)), ("ln_2.bias", (C,)),
    ("mlp.c_fc.weight", (C, 4 * C)), ("mlp.c_fc.bias", (4 * C,)),
    ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,)),
]




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










def main():
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(5678)
    P = init_params()
    # AdamW: decay on 2-D weights (embeddings included), none on biases/LN.
    write_model_fixture("gpt2", P, forward, gen, V,
                        lambda name: P[name].dim() == 2,
                        "tests/make_gpt2_fixtures.py")


if __name__ == "__main__":
    main()
