"""Tiny trunks and batches for the sharing-strategy tests: dimensions of 3 and 4, two layers, no dropout."""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import torch

from sparse_sharing.components.data.batching import Batch, IndexedDataset
from sparse_sharing.components.data.vocabulary import PAD, UNK, Vocabulary
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.trunk import Trunk
from sparse_sharing.registry import ENCODERS, SHARING, TOKEN_EMBEDDERS

VOCAB = Vocabulary([PAD, UNK, "the", "cat", "sat", "on", "mat"], [PAD, UNK, *"acehmnost"], {}, False)


def config(registry, type_: str, **options):
    return registry.get(type_).config(type=type_, **options)


def encoder_config(encoder: str, hidden_size: int):
    """Two layers without dropout: a BiLSTM of ``hidden_size`` units per direction, or a Transformer
    as wide as that BiLSTM's output (two heads)."""
    if encoder == "transformer":
        return config(ENCODERS, "transformer", hidden_size=2 * hidden_size, num_heads=2, ffn_size=8, num_layers=2,
                      dropout=0.0)
    return config(ENCODERS, "bilstm", hidden_size=hidden_size, num_layers=2, dropout=0.0)


def trunk_factory(seed: int = 0, distinct: bool = False, hidden_size: int = 3,
                  encoder: str = "bilstm") -> Callable[[], Trunk]:
    """Seeded trunks: the same initial weights on every call, or with ``distinct`` the n-th call's
    weights from seed + n, so the tasks of one strategy differ but two strategies still match;
    ``encoder`` (see ``encoder_config``) of two layers of ``hidden_size`` units per direction."""
    seeds = itertools.count(seed) if distinct else itertools.repeat(seed)

    def build() -> Trunk:
        torch.manual_seed(next(seeds))
        embedders = [TOKEN_EMBEDDERS.build(config(TOKEN_EMBEDDERS, "word", dim=4), vocab=VOCAB),
                     TOKEN_EMBEDDERS.build(config(TOKEN_EMBEDDERS, "char_cnn", char_dim=3, num_filters=4, dropout=0.0),
                                           vocab=VOCAB)]
        return Trunk(embedders, 0.0, ENCODERS.build(encoder_config(encoder, hidden_size), input_dim=8))

    return build


def strategy(type_: str, tasks: Sequence[str], distinct: bool = False, hidden_size: int = 3,
             encoder: str = "bilstm", **options) -> SharingStrategy:
    return SHARING.build(config(SHARING, type_, **options),
                         trunk_factory=trunk_factory(distinct=distinct, hidden_size=hidden_size, encoder=encoder),
                         tasks=list(tasks))


def batch(seed: int) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    words, chars = [], []
    for length in (5, 3, 4):
        words.append(torch.randint(1, len(VOCAB.words), (length,), generator=generator).tolist())
        chars.append([torch.randint(1, len(VOCAB.chars), (int(n),), generator=generator).tolist()
                      for n in torch.randint(1, 5, (length,), generator=generator)])
    return IndexedDataset(words, chars, None).batch([0, 1, 2])
