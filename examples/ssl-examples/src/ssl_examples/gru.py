"""A stacked bidirectional GRU encoder, layered so layer-wise strategies can use it too."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sparse_sharing.registry import ENCODERS, ComponentConfig


class GRUConfig(ComponentConfig):
    type: Literal["gru"]
    hidden_size: int = Field(100, gt=0, description="Hidden units per direction.")
    num_layers: int = Field(1, gt=0, description="Stacked layers.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout on each layer's output.")


@ENCODERS.register("gru", config=GRUConfig)
class GRUEncoder(nn.Module):
    """Meets ``contracts.LayeredEncoder``: ``output_dim``, ``forward(x, lengths)``, ``layers``, ``run_layer``.

    Its weights are named like an LSTM's (``weight_ih_l0``, ``weight_hh_l0``...), so the default
    prunable patterns of sparse sharing cover them.
    """

    def __init__(self, config: GRUConfig, input_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        size = input_dim
        for _ in range(config.num_layers):
            self.layers.append(nn.GRU(size, config.hidden_size, batch_first=True, bidirectional=True))
            size = 2 * config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.output_dim = size

    def run_layer(self, index: int, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.layers[index](packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
        return self.dropout(output)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for index in range(len(self.layers)):
            x = self.run_layer(index, x, lengths)
        return x
