"""Hard sharing: one trunk for every task, a head per task."""
from __future__ import annotations

from typing import Literal

import torch

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.registry import SHARING, ComponentConfig


class HardSharingConfig(ComponentConfig):
    type: Literal["hard"]


@SHARING.register("hard", config=HardSharingConfig)
class HardSharing(SharingStrategy):
    def __init__(self, config: HardSharingConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__()
        self.trunk = trunk_factory()

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        return self.trunk(batch)

    def output_dim(self, task: str) -> int:
        return self.trunk.output_dim
