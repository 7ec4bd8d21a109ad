"""Soft sharing by mixing per-task stacks after every layer: what cross-stitch and sluice share.

Every task owns a whole trunk (embedders and encoder). The mixing after a layer needs every
task's hidden states for the same tokens, so all trunks run on every batch, whichever task it
comes from: a step costs about T times a hard-sharing step. The mixing after the last layer
is applied too, so a one-layer base network still shares something.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.layers import layered_encoder
from sparse_sharing.components.sharing.trunk import TrunkFactory


class LayerMixingSharing(SharingStrategy):
    def __init__(self, strategy: str, trunk_factory: TrunkFactory, tasks: Sequence[str]) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.trunks = nn.ModuleDict({task: trunk_factory() for task in self.tasks})
        encoders = [layered_encoder(trunk, strategy) for trunk in self.trunks.values()]
        self.num_layers = len(encoders[0].layers)
        self.hidden_dim: int = self.trunks[self.tasks[0]].output_dim

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s hidden states of all tasks, (T, batch, length, dim), mixed across tasks."""
        raise NotImplementedError

    def run_layers(self, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, every task's hidden states before and after mixing, each (T, batch, length, dim)."""
        inputs = [trunk.embed(batch) for trunk in self.trunks.values()]
        outputs = []
        for layer in range(self.num_layers):
            hidden = torch.stack([trunk.encoder.run_layer(layer, x, batch.lengths)
                                  for trunk, x in zip(self.trunks.values(), inputs)])
            mixed = self.mix(layer, hidden)
            outputs.append((hidden, mixed))
            inputs = list(mixed.unbind(0))
        return outputs

    def output_dim(self, task: str) -> int:
        return self.hidden_dim


def near_identity(size: int, self_weight: float) -> torch.Tensor:
    """A mixing matrix keeping ``self_weight`` of each unit's own input and spreading the rest
    evenly over the others, so each row sums to one (1.0 = identity: no sharing at the start)."""
    if size == 1:
        return torch.ones(1, 1)
    matrix = torch.full((size, size), (1.0 - self_weight) / (size - 1))
    matrix.fill_diagonal_(self_weight)
    return matrix
