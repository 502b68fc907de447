"""Fixture for tests/test_optimizer.c: 10 steps of torch.optim.AdamW.

Two tensors in two parameter groups, as nanoGPT does: a 2-D weight with
weight decay 0.1 and a bias without. Every step sets the gradients, clips the
global norm to 1.0 with torch.nn.utils.clip_grad_norm_ (some steps' gradients
are below the limit, some above), sets the step's learning rate and steps.
The C test replays the same gradients through model_adamw_step.

Run with Debian's torch: /usr/bin/python3 tests/make_adamw_fixture.py
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from st_write import save_file  # noqa: E402

torch.manual_seed(1234)
betas, eps, wd, clip = (0.9, 0.95), 1e-8, 0.1, 1.0
w = torch.nn.Parameter(torch.randn(7, 13) * 0.5)
b = torch.nn.Parameter(torch.randn(13) * 0.1)
out = {"p0.w": w.detach().clone(), "p0.b": b.detach().clone()}
opt = torch.optim.AdamW([{"params": [w], "weight_decay": wd},
                         {"params": [b], "weight_decay": 0.0}],
                        lr=1e-3, betas=betas, eps=eps)
lrs, norms = [], []
for step in range(1, 11):
    # Alternate small gradients (no clipping) and large ones (clipped).
    scale = 0.01 if step % 2 else 3.0
    gw = torch.randn(7, 13) * scale
    gb = torch.randn(13) * scale
    w.grad, b.grad = gw.clone(), gb.clone()
    norm = torch.nn.utils.clip_grad_norm_([w, b], clip)
    lr = 1e-2 * (0.5 + 0.5 * math.cos(math.pi * step / 10)) + 1e-3
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    out[f"grad.{step}.w"], out[f"grad.{step}.b"] = gw, gb
    out[f"param.{step}.w"] = w.detach().clone()
    out[f"param.{step}.b"] = b.detach().clone()
    lrs.append(lr)
    norms.append(float(norm))
out["lr"] = torch.tensor(lrs, dtype=torch.float32)
out["norm"] = torch.tensor(norms, dtype=torch.float32)
out["hyper"] = torch.tensor([betas[0], betas[1], eps, wd, clip], dtype=torch.float32)
path = os.path.join(os.path.dirname(__file__), "fixtures", "adamw.safetensors")
save_file(out, path)
print("wrote", path)
