"""Sluice networks (Ruder et al. 2019): soft sharing that learns what to share, where, and how much.

An encoder per task over shared token embedders ("The two networks A and B share an embedding
layer"; ``share_embedders``, see ``layer_mixing``). Each layer of a task is split into G
subspaces, each a slice of the units of *each direction* ("splitting the matrices in half" for
G = 2): subspace g of a BiLSTM layer with H units a direction is units [g·H/G, (g+1)·H/G) of
the forward LSTM and the same units of the backward one. After layer l, α_l, a (T·G)×(T·G)
matrix, mixes every (task, subspace) pair into every other within a direction,
h̃_{t,g} = Σ_{u,h} α_l[(t,g), (u,h)] h_{u,h}, applied alike to the forward and the backward
states (as the authors' code stitches each direction), and the mixed states feed layer l+1.
The head of task t reads Σ_l β_t[l] h̃_{t,l}: β mixes the outputs of all layers.

The loss adds λ Ω, the orthogonality penalty of the paper, Ω = Σ_m Σ_k ‖G_{m,k,1}ᵀ G_{m,k,2}‖²_F
over the subspaces of each task m's layer k, on *weights*: "we have found it most effective to
apply the orthogonality constraint only to the weights associated with the LSTM inputs". Here
G_{m,k,g} = W_gᵀ, W_g the rows of subspace g's units in the input-weight matrix of one gate of one
direction (torch's ``weight_ih``, gates stacked), so G_1ᵀG_2 = W_1 W_2ᵀ holds the inner products
of the two subspaces' input-weight vectors; Ω sums over gates, directions and (for G > 2) every
pair of subspaces. It does not depend on the batch, so it keeps its size whatever the batch's
number of tokens, and pushes the subspaces to read different directions of the layer's input.
A layer that is not an RNN (a ``transformer`` layer) has one output stream, cut into G slices
of its units; it has no input weights per unit (its output is its input plus what the
attention's output projection and the second feed-forward matrix write), so Ω is taken on the
row blocks of those matrices (``output_weights()``), the weights that write each subspace.

Initialisation: α ``imbalanced`` (default) keeps ``init_self`` of each (task, subspace) on
itself and spreads the rest evenly; ``balanced`` (the authors' script's default) starts every
entry at 1/(T·G). β ``imbalanced`` (the authors' default) puts 0.9 on the last layer and spreads
0.1 over the others; ``balanced`` starts at 1/L. With one layer β is a single weight a task and
mixes nothing, which is why the sluice paper's network (three BiLSTM layers of 100 units) is the
one its experiments use.
"""
from __future__ import annotations

import itertools
from typing import Literal, Sequence

import torch
from pydantic import Field, model_validator
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.sharing.layer_mixing import LayerMixingConfig, LayerMixingSharing, near_identity
from sparse_sharing.components.sharing.trunk import TrunkFactory
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SHARING

InitScheme = Literal["imbalanced", "balanced"]
LAST_LAYER_BETA = 0.9  # the authors' imbalanced layer-stitch initialisation


class SluiceConfig(LayerMixingConfig):
    type: Literal["sluice"]
    subspaces: int = Field(2, ge=1, description="Subspaces G of each layer: slices of each direction's units "
                           "(G must divide the encoder's hidden units per direction).")
    alpha_init: InitScheme = Field(
        "imbalanced", description="imbalanced: α starts at init_self on each (task, subspace) itself, the rest "
        "spread evenly; balanced: every entry 1/(T·G), as the authors' script.")
    init_self: float = Field(0.9, ge=0.0, le=1.0,
                             description="Initial α weight of a (task, subspace) on itself with alpha_init "
                             "'imbalanced'; the rest is split evenly over the other (task, subspace) pairs.")
    beta_init: InitScheme = Field(
        "imbalanced", description="imbalanced: β starts at 0.9 on the last layer, the rest spread evenly over the "
        "others (the authors' default); balanced: 1/L on every layer.")
    orthogonality_weight: float = Field(
        0.001, ge=0.0, description="λ, the weight of the orthogonality penalty on the subspaces' LSTM input "
        "weights in each training loss (0 turns it off).")

    @model_validator(mode="after")
    def _init_self_only_when_imbalanced(self) -> "SluiceConfig":
        if self.alpha_init == "balanced" and "init_self" in self.model_fields_set:
            raise ValueError("init_self sets the diagonal of an 'imbalanced' α; alpha_init 'balanced' starts "
                             "every entry at 1/(T·G): drop one of the two")
        return self


@SHARING.register("sluice", config=SluiceConfig)
class SluiceSharing(LayerMixingSharing):
    def __init__(self, config: SluiceConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__("sluice", trunk_factory, tasks, config.share_embedders)
        self.subspaces = config.subspaces
        self.orthogonality_weight = config.orthogonality_weight
        for trunk in self.trunks.values():
            check_subspace_layers(trunk.encoder.layers, config.subspaces)
        self.directions = directions(next(iter(self.trunks.values())).encoder.layers[0])
        units = len(self.tasks) * self.subspaces
        alpha = (near_identity(units, config.init_self) if config.alpha_init == "imbalanced"
                 else torch.full((units, units), 1.0 / units))
        self.alphas = nn.ParameterList(nn.Parameter(alpha.clone()) for _ in range(self.num_layers))
        self.betas = nn.Parameter(initial_betas(self.num_layers, config.beta_init).repeat(len(self.tasks), 1))

    def split(self, hidden: torch.Tensor) -> torch.Tensor:
        """(T, …, D·H) → (T, G, …, D, H/G): each task's subspaces, each a slice of every direction's units
        (D = 2 for a BiLSTM layer, 1 for a layer with one output stream, such as a Transformer layer)."""
        chunks = hidden.unflatten(-1, (self.directions, self.subspaces, -1))
        return chunks.movedim(-2, 1)

    def mix(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        units = self.split(hidden).flatten(0, 1)  # (T·G, batch, length, 2, H/G), task-major
        mixed = torch.einsum("ij,j...->i...", self.alphas[layer], units)
        return mixed.unflatten(0, (len(self.tasks), self.subspaces)).movedim(1, -2).flatten(-3)

    def features(self, layers: list[tuple[torch.Tensor, torch.Tensor]], task: str) -> torch.Tensor:
        """Task's head input: its mixed outputs of all layers, weighted by its β."""
        index = self.tasks.index(task)
        return sum(self.betas[index, layer] * mixed[index] for layer, (_, mixed) in enumerate(layers))

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        return self.features(self.run_layers(batch), task)

    def forward_with_penalty(self, batch: Batch, task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.forward(batch, task)
        if self.orthogonality_weight == 0 or self.subspaces == 1:
            return features, None
        return features, self.orthogonality_weight * self.orthogonality()

    def orthogonality(self) -> torch.Tensor:
        """Ω: the input-weight penalty of every task's every layer."""
        return sum(input_weight_penalty(layer, self.subspaces)
                   for trunk in self.trunks.values() for layer in trunk.encoder.layers)

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
        """The per-task BiLSTMs, the char conv (once when shared), plus α and β."""
        return [*super().paper_parameters(), *self.alphas, self.betas]


def initial_betas(num_layers: int, scheme: InitScheme) -> torch.Tensor:
    """One task's β at the start: 0.9 on the last layer and 0.1 spread over the others (imbalanced),
    or 1/L each (balanced); a one-layer network has the single weight 1."""
    if num_layers == 1:
        return torch.ones(1)
    if scheme == "balanced":
        return torch.full((num_layers,), 1.0 / num_layers)
    betas = torch.full((num_layers,), (1.0 - LAST_LAYER_BETA) / (num_layers - 1))
    betas[-1] = LAST_LAYER_BETA
    return betas


def check_subspace_layers(layers: Sequence[nn.Module], subspaces: int) -> None:
    """The encoder's layers must be what the subspaces are cut from: one-layer bidirectional
    torch RNNs (``nn.LSTM``, ``nn.GRU``: their output is the forward then the backward states, their
    input weights ``weight_ih_l0`` and ``weight_ih_l0_reverse``) whose units per direction G divides,
    or layers with one output stream that name the matrices writing it (``output_weights()``, as the
    ``transformer`` encoder's layers do) and whose output size G divides."""
    for layer in layers:
        if isinstance(layer, nn.RNNBase) and layer.bidirectional and layer.num_layers == 1:
            units = layer.hidden_size
        elif callable(getattr(layer, "output_weights", None)):
            units = layer.output_weights()[0].shape[0]
        else:
            raise ConfigError("sharing 'sluice' cuts each direction's units of every encoder layer into subspaces: "
                              "model.encoder's layers must be one-layer bidirectional torch RNNs (nn.LSTM, nn.GRU), "
                              "as 'bilstm' has, or define output_weights(), as 'transformer' layers do; "
                              f"{type(layer).__name__} is neither")
        if units % subspaces:
            raise ConfigError(f"model.sharing.subspaces is {subspaces}, which does not divide the encoder's "
                              f"{units} hidden units per direction")


def directions(layer: nn.Module) -> int:
    """How many direction streams a layer's output holds side by side: 2 for a bidirectional RNN, else 1."""
    return 2 if isinstance(layer, nn.RNNBase) else 1


def input_weight_penalty(layer: nn.Module, subspaces: int) -> torch.Tensor:
    """Σ over directions and gates of the orthogonality penalty between the subspaces' input weights:
    each gate's (units × inputs) block of ``weight_ih`` cut by units into ``subspaces`` row blocks W_g,
    each subspace's matrix G_g = W_gᵀ. A layer that is not an RNN has no input weights per unit (a
    Transformer layer's output is its input plus what the attention's output projection and the
    second feed-forward matrix write): the penalty is on the row blocks of ``output_weights()``,
    the matrices that write each subspace's units."""
    if not isinstance(layer, nn.RNNBase):
        return sum(orthogonality_penalty([block.T for block in weight.unflatten(0, (subspaces, -1))])
                   for weight in layer.output_weights())
    total = layer.weight_ih_l0.new_zeros(())
    for suffix in ("", "_reverse"):
        weight = getattr(layer, f"weight_ih_l0{suffix}")
        gates = weight.unflatten(0, (-1, subspaces, layer.hidden_size // subspaces))  # (gates, G, H/G, inputs)
        for gate in gates:
            total = total + orthogonality_penalty([block.T for block in gate])
    return total


def orthogonality_penalty(subspaces: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ over pairs g < h of ‖G_gᵀ G_h‖²_F, each G a matrix whose columns span subspace g."""
    total = subspaces[0].new_zeros(())
    for first, second in itertools.combinations(subspaces, 2):
        total = total + (first.T @ second).pow(2).sum()
    return total
