#!/usr/bin/python3
"""Writes a GPT-2 checkpoint directory exactly as Hugging Face's
GPT2LMHeadModel.save_pretrained(dir, safe_serialization=True) lays it out
(transformers 4.35), for tests/test_checkpoint_models.c:

  tests/fixtures/hf-gpt2/config.json        GPT2Config as transformers writes it
  tests/fixtures/hf-gpt2/model.safetensors  every parameter under HF's names,
      Conv1D weights (in, out); no lm_head.weight (save_pretrained drops the
      tied copy) and no attention-mask buffers (non-persistent since 4.31)
  tests/fixtures/hf-gpt2-expected.safetensors  inputs (1, T) and the logits
      (1, T, V) that GPT2LMHeadModel computes from these weights

transformers is not needed: the forward is HF's modeling_gpt2.py written out
in plain torch. Run with Debian's torch:
  /usr/bin/python3 tests/make_hf_checkpoint_fixture.py
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from st_write import save_file  # noqa: E402

V, C, L, NH, NPOS = 64, 32, 2, 4, 16
EPS = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))


def make_params(gen):
    P = {"transformer.wte.weight": torch.randn(V, C, generator=gen) * 0.5,
         "transformer.wpe.weight": torch.randn(NPOS, C, generator=gen) * 0.1}
    shapes = [("ln_1.weight", (C,)), ("ln_1.bias", (C,)),
              ("attn.c_attn.weight", (C, 3 * C)), ("attn.c_attn.bias", (3 * C,)),
              ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
              ("ln_2.weight", (C,)), ("ln_2.bias", (C,)),
              ("mlp.c_fc.weight", (C, 4 * C)), ("mlp.c_fc.bias", (4 * C,)),
              ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))]
    for l in range(L):
        for name, shape in shapes:
            if name.endswith("weight") and name.startswith("ln_"):
                t = 1.0 + 0.1 * torch.randn(*shape, generator=gen)
            elif len(shape) == 2:
                t = torch.randn(*shape, generator=gen) * 0.1
            else:
                t = torch.randn(*shape, generator=gen) * 0.05
            P["transformer.h.%d.%s" % (l, name)] = t
    P["transformer.ln_f.weight"] = 1.0 + 0.1 * torch.randn(C, generator=gen)
    P["transformer.ln_f.bias"] = 0.05 * torch.randn(C, generator=gen)
    return P


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(P, idx):
    B, T = idx.shape
    x = P["transformer.wte.weight"][idx] + P["transformer.wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        p = lambda n: P["transformer.h.%d.%s" % (l, n)]  # noqa: E731
        h = F.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), EPS)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(C // NH)
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + (y @ p("attn.c_proj.weight") + p("attn.c_proj.bias"))
        h = F.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), EPS)
        h = gelu_new(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + (h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias"))
    x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], EPS)
    return x @ P["transformer.wte.weight"].t()


def hf_config():
    # What GPT2Config(...).to_json_string() writes in transformers 4.35.2.
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": C,
        "n_head": NH,
        "n_inner": None,
        "n_layer": L,
        "n_positions": NPOS,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.35.2",
        "use_cache": True,
        "vocab_size": V,
    }


def main():
    gen = torch.Generator().manual_seed(2024)
    P = make_params(gen)
    idx = torch.randint(0, V, (1, NPOS), generator=gen)
    with torch.no_grad():
        logits = forward(P, idx)
    out = os.path.join(HERE, "fixtures", "hf-gpt2")
    os.makedirs(out, exist_ok=True)
    save_file(P, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2, sort_keys=True)
        f.write("\n")
    save_file({"inputs": idx.float(), "logits": logits},
              os.path.join(HERE, "fixtures", "hf-gpt2-expected.safetensors"))
    print("wrote", out)


if __name__ == "__main__":
    main()
