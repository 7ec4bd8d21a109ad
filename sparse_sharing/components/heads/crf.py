"""Linear projection plus a CRF whose transitions obey the task's tag scheme."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.heads.crf_layer import ConditionalRandomField, transition_constraints
from sparse_sharing.components.heads.decoding import per_sentence
from sparse_sharing.registry import HEADS, ComponentConfig
from sparse_sharing.registry.versions import renamed_argument


class CRFHeadConfig(ComponentConfig):
    type: Literal["crf"]
    constrain_transitions: bool = Field(
        True, description="Forbid transitions the tag scheme rules out (e.g. O → I-PER in BIO)."
    )


@HEADS.register("crf", config=CRFHeadConfig)
class CRFHead(nn.Module):
    def __init__(self, config: CRFHeadConfig, input_dim: int, labels: list[str], tag_scheme: str) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, len(labels))
        constraints = transition_constraints(labels, tag_scheme) if config.constrain_transitions else None
        self.crf = ConditionalRandomField(len(labels), constraints)

    @renamed_argument("mask", "padding_mask")
    def loss(self, features: torch.Tensor, tags: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Sentence NLL summed, divided by the token count: the same scale as the softmax head's loss."""
        nll = self.crf.neg_log_likelihood(self.projection(features), tags, padding_mask)
        return nll.sum() / padding_mask.sum()

    @renamed_argument("mask", "padding_mask")
    def decode(self, features: torch.Tensor, padding_mask: torch.Tensor) -> list[list[int]]:
        return per_sentence(self.best_tags(features, padding_mask), padding_mask)

    @renamed_argument("mask", "padding_mask")
    def best_tags(self, features: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """The Viterbi path of each sentence as ``[batch, time]`` ids (what ``trainer.compile`` compiles)."""
        return self.crf.viterbi_paths(self.projection(features), padding_mask)
