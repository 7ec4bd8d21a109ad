"""Soft sharing with cross-stitch units (Misra et al. 2016).

An encoder per task, the token embedders shared (``share_embedders``, see ``layer_mixing``);
after each encoder layer a learnable T×T matrix α mixes the tasks' hidden
states, h̃_t = Σ_u α[t, u] h_u, and the mixed states feed the next layer (after the last layer,
the heads). α starts near the identity (``init_self``); with ``init_self: 1`` and
``trainable: false`` and ``share_embedders: false`` the tasks share nothing and the strategy
equals ``single``.
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.layer_mixing import LayerMixingConfig, LayerMixingSharing, near_identity
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.registry import SHARING


class CrossStitchConfig(LayerMixingConfig):
    type: Literal["cross_stitch"]
    init_self: float = Field(0.9, ge=0.0, le=1.0,
                             description="Initial weight of a task's own hidden state in each unit; the rest "
                             "is split evenly over the other tasks. 1.0 starts from independent stacks.")
    trainable: bool = Field(True, description="Learn the units; false keeps them at their initial values.")


@SHARING.register("cross_stitch", config=CrossStitchConfig)
class CrossStitchSharing(LayerMixingSharing):
    def __init__(self, config: CrossStitchConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__("cross_stitch", trunk_factory, tasks, config.share_embedders)
        self.units = nn.ParameterList(
            nn.Parameter(near_identity(len(self.tasks), config.init_self), requires_grad=config.trainable)
            for _ in range(self.num_layers))

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        return torch.einsum("tu,ubld->tbld", self.units[layer], hidden)

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        _, mixed = self.run_layers(batch)[-1]
        return mixed[self.tasks.index(task)]

    def summaries(self) -> dict[str, float]:
        return {f"cross_stitch/layer{layer + 1}/{target}<-{source}": weight
                for layer, unit in enumerate(self.units)
                for target, row in zip(self.tasks, unit.detach().tolist())
                for source, weight in zip(self.tasks, row)}

    def paper_parameters(self) -> list[nn.Parameter]:
        """The per-task BiLSTMs, the char conv (once when shared), plus the units."""
        return [*super().paper_parameters(), *self.units]
