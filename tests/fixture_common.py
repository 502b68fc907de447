"""What the model fixture scripts share (tests/make_{gpt2,mamba,lstm}_fixtures.py).

Each writes one safetensors file per model: the parameters, one batch's
logits, losses and gradients, and 10 AdamW steps, with the optimizer numbers
that the model tests (tests/model_checks.h) also use.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

B, T = 2, 16
LR, MIN_LR, WARMUP, TOTAL = 1e-2, 1e-3, 3, 10
BETAS, ADAM_EPS, WD, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0
ADAM_STEPS = 10


def f32(x):
    """Rounds a Python float to fp32, as the C code's float variables do."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def losses_of(logits, targets, vocab):
    per = F.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-100, reduction="none")
    return per, F.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-100)


def lr_at(step):
    """models/model.c's optim_lr_at, with its fp32/double roundings."""
    if step <= WARMUP:
        return f32(f32(f32(LR) * float(step)) / float(WARMUP))
    if step >= TOTAL:
        return f32(MIN_LR)
    progress = (step - WARMUP) / (TOTAL - WARMUP)
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))
    return f32(f32(MIN_LR) + coeff * (f32(LR) - f32(MIN_LR)))


def random_batch(gen, vocab):
    idx = torch.randint(0, vocab, (B, T), generator=gen)
    tgt = torch.randint(0, vocab, (B, T), generator=gen)
    tgt[0, 0] = -100  # ignored positions
    tgt[1, 5] = -100
    return idx, tgt


def write_safetensors(path, tensors, source):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", "source": source}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def write_model_fixture(model, P, forward, gen, vocab, decays, source):
    """One batch's outputs and gradients, then ADAM_STEPS AdamW steps (decay
    only where decays(name)), into tests/fixtures/<model>/tiny.safetensors."""
    out = {name: p.detach().clone() for name, p in P.items()}
    idx, tgt = random_batch(gen, vocab)
    logits = forward(P, idx)
    per, loss = losses_of(logits, tgt, vocab)
    loss.backward()
    out["inputs"] = idx.float()
    out["targets"] = tgt.float()
    out["logits"] = logits.detach()
    out["losses"] = per.detach().view(B, T)
    out["loss"] = loss.detach().view(1)
    for name, p in P.items():
        out["grad." + name] = p.grad.detach().clone()

    for p in P.values():
        p.grad = None
    decay = [p for n, p in P.items() if decays(n)]
    no_decay = [p for n, p in P.items() if not decays(n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS, foreach=False)
    a_in, a_tgt, a_loss, a_norm, a_lr = [], [], [], [], []
    for step in range(1, ADAM_STEPS + 1):
        idx, tgt = random_batch(gen, vocab)
        opt.zero_grad(set_to_none=True)
        _, loss = losses_of(forward(P, idx), tgt, vocab)
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
    os.makedirs(os.path.join(here, "fixtures", model), exist_ok=True)
    path = os.path.join(here, "fixtures", model, "tiny.safetensors")
    write_safetensors(path, out, source)
    print("wrote %s (%d tensors); loss %.6f, adam losses %s" %
          (path, len(out), out["loss"].item(), ", ".join("%.4f" % x for x in a_loss)))
