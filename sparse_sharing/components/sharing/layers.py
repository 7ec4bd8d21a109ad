"""Strategies that read or mix the encoder layer by layer share this contract with the encoder."""
from __future__ import annotations

from torch import nn

from sparse_sharing.components.sharing.trunk import Trunk
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry.contracts import LayeredEncoder


def layered_encoder(trunk: Trunk, strategy: str) -> nn.Module:
    """The trunk's encoder, checked to meet ``contracts.LayeredEncoder``: ``layers``,
    ``run_layer(index, x, lengths)`` and an ``output_dim`` that every layer's output has
    (``bilstm`` does); a registered encoder without them cannot serve a layer-wise strategy,
    and the user should hear so at build time."""
    encoder = trunk.encoder
    if not isinstance(encoder, LayeredEncoder):
        raise ConfigError(f"sharing '{strategy}' runs the encoder layer by layer: model.encoder must have "
                          f"`layers` and `run_layer` (as 'bilstm' has); {type(encoder).__name__} has not")
    return encoder
