"""Character CNN of Ma & Hovy (2016): char embeddings, one Conv1d, max-pool over the word."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.registry import TOKEN_EMBEDDERS, ComponentConfig


class CharCNNConfig(ComponentConfig):
    type: Literal["char_cnn"]
    char_dim: int = Field(30, gt=0, description="Character embedding size.")
    num_filters: int = Field(30, gt=0, description="Conv1d output channels = this embedder's output size.")
    kernel_size: int = Field(3, gt=0, description="Conv1d width in characters.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout on character embeddings before the conv.")


@TOKEN_EMBEDDERS.register("char_cnn", config=CharCNNConfig)
class CharCNN(nn.Module):
    def __init__(self, config: CharCNNConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.output_dim = config.num_filters
        self.embedding = nn.Embedding(len(vocab.chars), config.char_dim, padding_idx=0)
        scale = (3.0 / config.char_dim) ** 0.5
        with torch.no_grad():
            self.embedding.weight.uniform_(-scale, scale)
            self.embedding.weight[0].zero_()
        self.dropout = nn.Dropout(config.dropout)
        self.conv = nn.Conv1d(config.char_dim, config.num_filters, config.kernel_size,
                              padding=config.kernel_size // 2)

    def forward(self, batch: Batch) -> torch.Tensor:
        b, t, c = batch.chars.shape
        chars = batch.chars.view(b * t, c)
        x = self.dropout(self.embedding(chars)).transpose(1, 2)  # [B*T, D, C]
        x = self.conv(x)
        # Padding characters must not win the max: push them to -inf first.
        char_mask = (chars != 0).unsqueeze(1)
        x = x.masked_fill(~char_mask, float("-inf")).max(dim=2).values
        x = torch.where(torch.isinf(x), torch.zeros_like(x), x)  # padded tokens have no chars
        return x.view(b, t, -1)
