"""Independent per-token classification with masked cross-entropy."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from sparse_sharing.components.heads.decoding import per_sentence
from sparse_sharing.registry import HEADS, ComponentConfig
from sparse_sharing.registry.versions import renamed_argument


class SoftmaxHeadConfig(ComponentConfig):
    type: Literal["softmax"]


@HEADS.register("softmax", config=SoftmaxHeadConfig)
class SoftmaxHead(nn.Module):
    def __init__(self, config: SoftmaxHeadConfig, input_dim: int, labels: list[str], tag_scheme: str) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, len(labels))

    @renamed_argument("mask", "padding_mask")
    def loss(self, features: torch.Tensor, tags: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Mean over real tokens, so the loss scale does not depend on sentence length."""
        logits = self.projection(features)
        return nn.functional.cross_entropy(logits[padding_mask], tags[padding_mask])

    @renamed_argument("mask", "padding_mask")
    def decode(self, features: torch.Tensor, padding_mask: torch.Tensor) -> list[list[int]]:
        return per_sentence(self.best_tags(features, padding_mask), padding_mask)

    @renamed_argument("mask", "padding_mask")
    def best_tags(self, features: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """The most likely label of every position, ``[batch, time]``."""
        return self.projection(features).argmax(-1)
