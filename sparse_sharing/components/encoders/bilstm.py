"""Stacked bidirectional LSTM over packed sequences."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sparse_sharing.registry import ENCODERS, ComponentConfig


class BiLSTMConfig(ComponentConfig):
    type: Literal["bilstm"]
    hidden_size: int = Field(200, gt=0, description="Hidden units per direction.")
    num_layers: int = Field(1, gt=0, description="Stacked BiLSTM layers.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout on each layer's output.")


@ENCODERS.register("bilstm", config=BiLSTMConfig)
class BiLSTMEncoder(nn.Module):
    """Layers are separate ``nn.LSTM`` modules so strategies can read or mix any layer's output."""

    def __init__(self, config: BiLSTMConfig, input_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        size = input_dim
        for _ in range(config.num_layers):
            self.layers.append(nn.LSTM(size, config.hidden_size, batch_first=True, bidirectional=True))
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
