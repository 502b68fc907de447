#!/usr/bin/python3
"""The PyTorch peer of `tunebench bench` for the LSTM (run by it with --peer).

Reads tunebench's LSTM config.json (models/lstm.c: nn.Embedding, nn.LSTM with
the keyword arguments under "lstm", the LM head tied to the embedding) and
measures, like tunebench does:
  training  median step time of zero_grad + forward + cross-entropy +
            backward + clip_grad_norm_(1.0) + AdamW (betas 0.9/0.95, eps 1e-8,
            weight decay 0.1 on 2-D weights) at batch x seq on random tokens
  prefill   batch 1, seq tokens, under inference_mode
  decode    batch 1, one token from the (h, c) state, median over --decode-steps
Prints one JSON object on stdout.

PyTorch gets its best chance: the thread count given (torch.set_num_threads);
the model is torch.nn.LSTM itself, the fused whole-sequence op (at::lstm: the
input projection of all steps as one matmul, then the recurrence in C++);
Debian's torch also has oneDNN (MKL-DNN), whose RNN kernels at::lstm may use
where they apply, so training runs once with oneDNN allowed (the default) and
once with it off (torch.backends.mkldnn.flags), each in its own process, and
the faster counts; training under the OpenMP wait policy that suits it and
inference under each of INFERENCE_WAIT_POLICIES, keeping the faster
(scripts/torch_peer_common.py); glibc malloc settings that keep large
tensors' memory between steps (set by the caller, bench/bench.c); foreach AdamW.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_peer_common import (TRAIN_WAIT_POLICY, add_phase_options, best_inference, describe_run,
                               inference_json, print_training, protocol_parser, read_config,
                               run_self_in_child, timed_ms)

VARIANTS = ("mkldnn-allowed", "mkldnn-off")


class LSTMLM(nn.Module):
    """tunebench's LSTM as config.json describes it."""

    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embedding_dim"])
        self.lstm = nn.LSTM(**cfg["lstm"])
        nn.init.normal_(self.embedding.weight, 0.0, 0.02)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embedding(idx), state)
        return F.linear(out, self.embedding.weight), state  # tied LM head


def inference(model, cfg, args):
    """Batch-1 prefill of seq tokens, then decode steps from its state."""
    V, T = cfg["vocab_size"], args.seq
    with torch.inference_mode():
        prompt = torch.randint(0, V, (1, T))
        state = None

        def prefill():
            nonlocal state
            _, state = model(prompt)

        def decode_step():
            nonlocal state
            _, state = model(tok, state)

        pre = timed_ms(prefill, 3)
        tok = torch.randint(0, V, (1, 1))
        dec = timed_ms(decode_step, args.decode_steps, untimed=2)
    return inference_json(T, pre, T, dec)


def main():
    ap = protocol_parser(__doc__, "the model's config.json (tunebench's LSTM)", steps=10, warmup=2)
    add_phase_options(ap, VARIANTS)
    args = ap.parse_args()
    cfg = read_config(args, seed=1)
    if args.train_only:
        with torch.backends.mkldnn.flags(enabled=args.train_only == "mkldnn-allowed"):
            print_training(LSTMLM(cfg), args, cfg["vocab_size"], lambda model, idx: model(idx)[0])
        return
    if args.inference_only:
        print(json.dumps(inference(LSTMLM(cfg), cfg, args)))
        return
    # Each phase and variant in its own process (see torch_peer_common.py);
    # this one runs no torch op meanwhile.
    variants, errors = {}, []
    for v in VARIANTS:
        out, why = run_self_in_child(["--train-only", v], "training (%s)" % v)
        if out is None:
            errors.append(why)
        else:
            variants[v] = out
    if not variants:
        raise SystemExit("bench_torch_lstm.py: " + "; ".join(errors))
    best = min(variants, key=lambda v: variants[v]["step_ms_median"])
    train = dict(variants[best])
    train["variant"] = best
    train["variants"] = {v: {"step_ms_median": o["step_ms_median"], "step_ms": o["step_ms"]}
                         for v, o in variants.items()}
    inf = best_inference(["--inference-only"])
    print(json.dumps({
        **describe_run("PyTorch %s nn.LSTM (scripts/bench_torch_lstm.py)" % torch.__version__,
                       {"train": TRAIN_WAIT_POLICY, "inference": inf["wait_policy"]}),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "num_params": train.pop("num_params"),
        "train": train,
        "inference": inf,
    }))


if __name__ == "__main__":
    main()
