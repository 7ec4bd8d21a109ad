"""Character CNN of Ma & Hovy (2016): char embeddings, one Conv1d, max-pool over the word."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.dropout import Dropout
from sparse_sharing.registry import TOKEN_EMBEDDERS, ComponentConfig


class CharCNNConfig(ComponentConfig):
    type: Literal["char_cnn"]
    char_dim: int = Field(30, gt=0, description="Character embedding size.")
    num_filters: int = Field(30, gt=0, description="Conv1d output channels = this embedder's output size.")
    kernel_size: int = Field(3, gt=0, description="Conv1d width in characters.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="Dropout on character embeddings before the conv.")


@TOKEN_EMBEDDERS.register("char_cnn", config=CharCNNConfig)
class CharCNN(nn.Module):
    prunable = ("conv.weight",)  # the paper prunes the conv weight; never the char embeddings or the bias

    def __init__(self, config: CharCNNConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.output_dim = config.num_filters
        self.embedding = nn.Embedding(len(vocab.chars), config.char_dim, padding_idx=0)
        scale = (3.0 / config.char_dim) ** 0.5
        with torch.no_grad():
            self.embedding.weight.uniform_(-scale, scale)
            self.embedding.weight[0].zero_()
        self.dropout = Dropout(config.dropout)
        self.conv = nn.Conv1d(config.char_dim, config.num_filters, config.kernel_size,
                              padding=config.kernel_size // 2)

    def forward(self, batch: Batch) -> torch.Tensor:
        b, t, c = batch.chars.shape
        chars = batch.chars.view(b * t, c)
        if (self.training and self.dropout.p > 0) or batch.spellings is None:
            return self._encode(chars).view(b, t, -1)
        # Without dropout a token's vector depends on its spelling alone: encode each distinct
        # spelling of the batch once (decoding a batch of 256 sentences repeats most words).
        spellings = batch.spellings.reshape(-1)
        distinct, token_spelling = torch.unique(spellings, return_inverse=True)
        some_token = torch.empty_like(distinct).scatter_(0, token_spelling, torch.arange(
            spellings.numel(), device=spellings.device))
        return self._encode(chars[some_token])[token_spelling].view(b, t, -1)

    def _encode(self, chars: torch.Tensor) -> torch.Tensor:
        """[N, C] char ids → [N, filters]: max over the word of the conv of its char embeddings."""
        x = self.dropout(self.embedding(chars)).transpose(1, 2)  # [N, D, C]
        x = self.conv(x)
        # Padding characters must not win the max: push them to -inf first.
        char_mask = (chars != 0).unsqueeze(1)
        x = x.masked_fill(~char_mask, float("-inf")).max(dim=2).values
        return torch.where(torch.isinf(x), torch.zeros_like(x), x)  # padded tokens have no chars
