"""Sluice networks (Ruder et al. 2019): soft sharing that learns what to share, where, and how much.

One trunk per task. Each layer's output of each task is split into G subspaces (contiguous,
equal chunks of the layer's output; for a BiLSTM with G = 2, its forward and its backward
states). After layer l, α_l, a (T·G)×(T·G) matrix, mixes every (task, subspace) pair into
every other, h̃_{t,g} = Σ_{u,h} α_l[(t,g), (u,h)] h_{u,h}, and the mixed states feed layer l+1.
The head of task t reads Σ_l β_t[l] h̃_{t,l}: β mixes the outputs of all layers. The loss adds
λ Σ_l Σ_t Σ_{g<h} ‖G_{t,l,g}ᵀ G_{t,l,h}‖²_F, where G_{t,l,g} is the (tokens × dims) matrix of
subspace g of task t's layer l on the batch's real tokens: it pushes the subspaces of a layer
apart, so that one can specialise while another is shared.
"""
from __future__ import annotations

import itertools
from typing import Literal, Sequence

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.layer_mixing import LayerMixingSharing, near_identity
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SHARING, ComponentConfig


class SluiceConfig(ComponentConfig):
    type: Literal["sluice"]
    subspaces: int = Field(2, ge=1, description="Subspaces G per task layer; must divide the encoder's output width.")
    init_self: float = Field(0.9, ge=0.0, le=1.0,
                             description="Initial α weight of a (task, subspace) on itself; the rest is split "
                             "evenly over the other (task, subspace) pairs.")
    orthogonality_weight: float = Field(
        0.001, ge=0.0, description="λ, the weight of the orthogonality penalty in each training loss (0 turns it "
        "off). The penalty is a sum over tokens and dimensions, so it grows with batch size and width.")


@SHARING.register("sluice", config=SluiceConfig)
class SluiceSharing(LayerMixingSharing):
    def __init__(self, config: SluiceConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__("sluice", trunk_factory, tasks)
        if self.hidden_dim % config.subspaces:
            raise ConfigError(f"model.sharing.subspaces is {config.subspaces}, which does not divide the encoder's "
                              f"output width {self.hidden_dim}")
        self.subspaces = config.subspaces
        self.orthogonality_weight = config.orthogonality_weight
        units = len(self.tasks) * self.subspaces
        self.alphas = nn.ParameterList(nn.Parameter(near_identity(units, config.init_self))
                                       for _ in range(self.num_layers))
        self.betas = nn.Parameter(torch.full((len(self.tasks), self.num_layers), 1.0 / self.num_layers))

    def split(self, hidden: torch.Tensor) -> torch.Tensor:
        """(T, …, D) → (T, G, …, D/G): each task's subspaces."""
        chunks = hidden.unflatten(-1, (self.subspaces, -1))
        return chunks.movedim(-2, 1)

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        units = self.split(hidden).flatten(0, 1)  # (T·G, batch, length, D/G), task-major
        mixed = torch.einsum("ij,jbld->ibld", self.alphas[layer], units)
        return mixed.unflatten(0, (len(self.tasks), self.subspaces)).movedim(1, -2).flatten(-2)

    def features(self, layers: list[tuple[torch.Tensor, torch.Tensor]], task: str) -> torch.Tensor:
        """Task's head input: its mixed outputs of all layers, weighted by its β."""
        index = self.tasks.index(task)
        return sum(self.betas[index, layer] * mixed[index] for layer, (_, mixed) in enumerate(layers))

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        return self.features(self.run_layers(batch), task)

    def forward_with_penalty(self, batch: Batch, task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        layers = self.run_layers(batch)
        features = self.features(layers, task)
        if self.orthogonality_weight == 0 or self.subspaces == 1:
            return features, None
        penalty = sum(orthogonality_penalty(list(task_subspaces))
                      for hidden, _ in layers for task_subspaces in self.split(hidden[:, batch.mask]))
        return features, self.orthogonality_weight * penalty

    def summaries(self) -> dict[str, float]:
        units = [f"{task}.{g}" for task in self.tasks for g in range(self.subspaces)]
        alphas = {f"sluice/alpha/layer{layer + 1}/{target}<-{source}": weight
                  for layer, alpha in enumerate(self.alphas)
                  for target, row in zip(units, alpha.detach().tolist())
                  for source, weight in zip(units, row)}
        betas = {f"sluice/beta/{task}/layer{layer + 1}": weight
                 for task, row in zip(self.tasks, self.betas.detach().tolist())
                 for layer, weight in enumerate(row)}
        return {**alphas, **betas}

    def paper_parameters(self) -> list[nn.Parameter]:
        """The per-task BiLSTMs and convs, as ``single``, plus α and β."""
        return [*super().paper_parameters(), *self.alphas, self.betas]


def orthogonality_penalty(subspaces: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ over pairs g < h of ‖G_gᵀ G_h‖²_F, each G a (tokens × dims) matrix."""
    total = subspaces[0].new_zeros(())
    for first, second in itertools.combinations(subspaces, 2):
        total = total + (first.T @ second).pow(2).sum()
    return total
