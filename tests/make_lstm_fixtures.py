#!/usr/bin/python3
"""Writes the LSTM reference fixtures for tests/test_lstm.c.

Run with Debian's torch:  /usr/bin/python3 tests/make_lstm_fixtures.py
Output: tests/fixtures/lstm/tiny.safetensors (F32 tensors only).

The model is torch.nn.LSTM itself (not a re-implementation): nn.Embedding's
table, nn.LSTM(H, H, num_layers=2, batch_first=True) from a zero state, and
the LM head tied to the embedding (F.linear with the embedding's weight).
The config is tunebench's "tiny-lstm" (hidden 24, 2 layers, vocabulary 50).

What the fixture holds (tokens are stored as exact small floats):
  the parameters under tunebench's names: embedding.weight and the
  nn.LSTM's own state_dict names under the prefix "lstm." (nn.LSTM's init,
  the embedding N(0, 0.5) so that the inputs matter),
  inputs / targets (B, T) (targets include ignored -100 positions),
  logits (B, T, V), losses (B, T), loss (1),
  grad.<name> for every parameter,
  10 AdamW steps: adam.inputs / adam.targets (10, B, T), adam.losses,
  adam.grad_norms (before clipping), adam.lrs, adam.final.<name>.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import write_model_fixture

V, H, N_LAYER = 50, 24, 2


def main():
    torch.manual_seed(2468)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1357)
    lstm = nn.LSTM(H, H, num_layers=N_LAYER, batch_first=True)
    emb = (torch.randn(V, H) * 0.5).requires_grad_(True)
    # The dict's tensors are the module's own parameters: AdamW on P updates lstm.
    P = {"embedding.weight": emb}
    for name, p in lstm.named_parameters():
        P["lstm." + name] = p

    def forward(P, idx):
        out, _ = lstm(P["embedding.weight"][idx])
        return F.linear(out, P["embedding.weight"])  # tied LM head

    # AdamW: decay on the matrices (embedding, weight_ih, weight_hh), none on biases.
    write_model_fixture("lstm", P, forward, gen, V, lambda name: ".bias_" not in name,
                        "tests/make_lstm_fixtures.py")


if __name__ == "__main__":
    main()
