"""The trunk: token embedders, concatenated, then an encoder. Strategies decide how many exist."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.dropout import Dropout
from sparse_sharing.components.masks.mask_set import PAPER_PRUNABLE

TrunkFactory = Callable[[], "Trunk"]


class Trunk(nn.Module):
    def __init__(self, embedders: list[nn.Module], embedding_dropout: float, encoder: nn.Module) -> None:
        super().__init__()
        self.embedders = nn.ModuleList(embedders)
        self.embedding_dropout = Dropout(embedding_dropout)
        self.encoder = encoder
        self.output_dim: int = encoder.output_dim

    def declared_prunable(self) -> list[str]:
        """Glob patterns over this trunk's parameter names: what its components declare prunable in
        their ``prunable`` attribute (patterns relative to the component), in trunk order. A
        component that declares nothing gets the patterns that were every trunk's default before
        components could declare (``PAPER_PRUNABLE``), so a plugin's LSTM or GRU encoder is pruned
        as it was."""
        parts = [(f"embedders.{i}.", embedder) for i, embedder in enumerate(self.embedders)]
        parts.append(("encoder.", self.encoder))
        return [prefix + pattern for prefix, part in parts
                for pattern in getattr(part, "prunable", PAPER_PRUNABLE)]

    def embed(self, batch: Batch) -> torch.Tensor:
        return self.embedding_dropout(torch.cat([e(batch) for e in self.embedders], dim=-1))

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.encoder(self.embed(batch), batch.lengths)
