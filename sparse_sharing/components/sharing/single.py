"""Single-task baseline: each task owns a whole trunk (embedders included); nothing is shared."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.registry import SHARING, ComponentConfig


class SingleTaskConfig(ComponentConfig):
    type: Literal["single"]


@SHARING.register("single", config=SingleTaskConfig)
class SingleTask(SharingStrategy):
    """Trained in one run the tasks only share the loop; ``train_tasks`` trains one task at a time."""

    def __init__(self, config: SingleTaskConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__()
        self.trunks = nn.ModuleDict({task: trunk_factory() for task in tasks})

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        return self.trunks[task](batch)

    def output_dim(self, task: str) -> int:
        return self.trunks[task].output_dim
