"""Hierarchical sharing (Søgaard & Goldberg 2016): one shared stack, each task reading its own layer.

Low-level tasks (POS) are supervised at a low layer and high-level tasks (chunking, NER) at a
higher one. A task's forward stops at its layer, so its loss never reaches the layers above:
those are trained only by the tasks that read them.
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.layers import layered_encoder
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SHARING, ComponentConfig


class HierarchicalSharingConfig(ComponentConfig):
    type: Literal["hierarchical"]
    task_layers: dict[str, int] = Field(
        description="Task → the encoder layer (1 = lowest) whose output feeds its head, e.g. "
        "{pos: 1, chunk: 2, ner: 2} as in the authors' code. model.encoder.num_layers must reach the "
        "highest; tasks not trained in a run may be listed.")


@SHARING.register("hierarchical", config=HierarchicalSharingConfig)
class HierarchicalSharing(SharingStrategy):
    def __init__(self, config: HierarchicalSharingConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__()
        self.trunk = trunk_factory()
        encoder = layered_encoder(self.trunk, "hierarchical")
        missing = [t for t in tasks if t not in config.task_layers]
        if missing:
            raise ConfigError(f"model.sharing.task_layers has no layer for task(s) {missing}: give every trained "
                              f"task the encoder layer its head reads (1 = lowest)")
        depth = len(encoder.layers)
        for task in tasks:
            layer = config.task_layers[task]
            if not 1 <= layer <= depth:
                raise ConfigError(f"model.sharing.task_layers.{task} is {layer}, but the encoder has {depth} "
                                  f"layer(s) (model.encoder.num_layers): use 1 to {depth}, or more layers")
        self.task_layers = {task: config.task_layers[task] for task in tasks}

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        x = self.trunk.embed(batch)
        for index in range(self.task_layers[task]):
            x = self.trunk.encoder.run_layer(index, x, batch.lengths)
        return x

    def output_dim(self, task: str) -> int:
        return self.trunk.output_dim
