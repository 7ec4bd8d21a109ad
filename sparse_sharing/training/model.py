"""MultiTaskTagger: a sharing strategy (which owns the trunks) plus one head per task."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.trunk import Trunk
from sparse_sharing.registry import ENCODERS, HEADS, SHARING, TOKEN_EMBEDDERS

# (features, tags, padding_mask) -> loss, as a head's ``loss``.
HeadLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (features, padding_mask) -> label ids per sentence, as a head's ``decode``.
HeadDecode = Callable[[torch.Tensor, torch.Tensor], list[list[int]]]


class MultiTaskTagger(nn.Module):
    def __init__(self, sharing: SharingStrategy, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.sharing = sharing
        self.heads = nn.ModuleDict(dict(heads))

    def loss(self, batch: Batch, task: str, head_loss: HeadLoss | None = None) -> torch.Tensor:
        """The task's training loss; ``head_loss`` computes what the head's ``loss`` does, another way
        (``trainer.compile``'s compiled head)."""
        features, penalty = self.sharing.forward_with_penalty(batch, task)
        loss = (head_loss or self.heads[task].loss)(features, batch.tags, batch.padding_mask)
        return loss if penalty is None else loss + penalty

    @torch.inference_mode()
    def decode(self, batch: Batch, task: str, head_decode: HeadDecode | None = None) -> list[list[int]]:
        """Best label ids per sentence; ``head_decode`` computes what the head's ``decode`` does,
        another way (``trainer.compile``'s compiled decoding). Inference mode rather than no_grad:
        nothing decoded here is ever differentiated, and skipping autograd's bookkeeping entirely is
        measurably faster."""
        return (head_decode or self.heads[task].decode)(self.sharing(batch, task), batch.padding_mask)


def build_model(config: Any, vocab: Vocabulary, tasks: list[str], tag_schemes: Mapping[str, str]) -> MultiTaskTagger:
    """Build from a validated experiment config; ``tasks`` are those the model serves."""
    model_config = config.model

    def trunk_factory() -> Trunk:
        embedders = [TOKEN_EMBEDDERS.build(c, vocab=vocab) for c in model_config.token_embedders]
        input_dim = sum(e.output_dim for e in embedders)
        encoder = ENCODERS.build(model_config.encoder, input_dim=input_dim)
        return Trunk(embedders, model_config.embedding_dropout, encoder)

    sharing = SHARING.build(model_config.sharing, trunk_factory=trunk_factory, tasks=tasks)
    heads = {
        task: HEADS.build(config.tasks[task].head, input_dim=sharing.output_dim(task), labels=vocab.labels[task],
                          tag_scheme=tag_schemes[task])
        for task in tasks
    }
    return MultiTaskTagger(sharing, heads)


def parameter_counts(model: MultiTaskTagger) -> dict[str, int]:
    """The paper's figure (BiLSTM with biases + char conv; for masks, their union) and the total."""
    count = getattr(model.sharing, "paper_parameter_count", None)
    return {
        "paper": count() if count else sum(p.numel() for p in model.sharing.paper_parameters()),
        "total": sum(p.numel() for p in model.parameters()),
    }
