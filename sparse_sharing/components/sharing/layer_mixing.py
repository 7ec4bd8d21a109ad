"""Soft sharing by mixing per-task stacks after every layer: what cross-stitch and sluice share.

Every task owns an encoder. The token embedders (word embeddings, char CNN) are one set that
every task reads, as in the sluice paper ("The two networks A and B share an embedding layer";
its code shares the word and character embeddings) and as the sparse-sharing paper's soft-sharing
row counts them (1,596k = 3 × 531,200 BiLSTM + one 2,730 char conv); ``share_embedders: false``
gives each task its own. The mixing after a layer needs every task's hidden states for the same
tokens, so all encoders run on every batch, whichever task it comes from: a step costs about T
times a hard-sharing step. The mixing after the last layer is applied too, so a one-layer base
network still shares something.
"""
from __future__ import annotations

from typing import Sequence

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.layers import layered_encoder
from sparse_sharing.components.sharing.trunk import Trunk, TrunkFactory
from sparse_sharing.registry import ComponentConfig


class LayerMixingConfig(ComponentConfig):
    """What cross-stitch and sluice share: whether the tasks read one set of token embedders."""

    share_embedders: bool = Field(
        True, description="One set of token embedders (word embeddings, char CNN) read by every task, as in the "
        "sluice paper (its networks share an embedding layer); false gives each task its own.")


class LayerMixingSharing(SharingStrategy):
    def __init__(self, strategy: str, trunk_factory: TrunkFactory, tasks: Sequence[str],
                 share_embedders: bool = True) -> None:
        super().__init__()
        self.tasks = list(tasks)
        trunks = {task: trunk_factory() for task in self.tasks}
        if share_embedders:
            share_embedding(list(trunks.values()))
        self.share_embedders = share_embedders
        self.trunks = nn.ModuleDict(trunks)
        encoders = [layered_encoder(trunk, strategy) for trunk in self.trunks.values()]
        self.num_layers = len(encoders[0].layers)
        self.hidden_dim: int = self.trunks[self.tasks[0]].output_dim

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s hidden states of all tasks, (T, batch, length, dim), mixed across tasks."""
        raise NotImplementedError

    def embed(self, batch: Batch) -> list[torch.Tensor]:
        """Each task's encoder input: with shared embedders one embedding (one dropout draw) for all."""
        trunks = list(self.trunks.values())
        if self.share_embedders:
            return [trunks[0].embed(batch)] * len(trunks)
        return [trunk.embed(batch) for trunk in trunks]

    def run_layers(self, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, every task's hidden states before and after mixing, each (T, batch, length, dim)."""
        inputs = self.embed(batch)
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


def share_embedding(trunks: list[Trunk]) -> None:
    """Make every trunk read the first trunk's embedders and embedding dropout (one set of modules;
    the others' embedders, built by the factory, are dropped). Each trunk stays a whole trunk, so
    ``trunk(batch)`` still works, and the parameters are counted and optimised once."""
    first = trunks[0]
    for trunk in trunks[1:]:
        trunk.embedders = first.embedders
        trunk.embedding_dropout = first.embedding_dropout


def near_identity(size: int, self_weight: float) -> torch.Tensor:
    """A mixing matrix keeping ``self_weight`` of each unit's own input and spreading the rest
    evenly over the others, so each row sums to one (1.0 = identity: no sharing at the start)."""
    if size == 1:
        return torch.ones(1, 1)
    matrix = torch.full((size, size), (1.0 - self_weight) / (size - 1))
    matrix.fill_diagonal_(self_weight)
    return matrix
