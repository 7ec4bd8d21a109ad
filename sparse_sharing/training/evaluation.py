"""Decoding a dataset and scoring it; shared by the loop, `ssl evaluate` and `ssl predict`.

One scoring path (``score_tags``) for the trainer's dev and test figures and for ``ssl evaluate``
(the Python API's ``Tagger.evaluate``), so a run's recorded scores and a later evaluation of its
checkpoint agree by construction.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from sparse_sharing.components.data.batching import IndexedDataset, evaluation_batches
from sparse_sharing.components.data.tag_schemes import convert_tags
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.registry import METRICS
from sparse_sharing.training.model import HeadDecode, MultiTaskTagger


def predict_tags(model: MultiTaskTagger, dataset: IndexedDataset, task: str, vocab: Vocabulary,
                 batch_size: int, device: torch.device = torch.device("cpu"),
                 head_decode: HeadDecode | None = None,
                 on_batch: Callable[[int], object] | None = None) -> list[list[str]]:
    """Predicted label strings per sentence, in the dataset's order (``head_decode``: as in
    ``MultiTaskTagger.decode``); ``on_batch`` is told how many sentences each batch tagged."""
    was_training = model.training
    model.eval()
    predicted: list[list[str] | None] = [None] * len(dataset)
    for batch in evaluation_batches(dataset, batch_size):
        for index, ids in zip(batch.indices, model.decode(batch.to(device), task, head_decode)):
            predicted[index] = [vocab.label(task, i) for i in ids]
        if on_batch is not None:
            on_batch(len(batch.indices))
    model.train(was_training)
    return predicted  # type: ignore[return-value]


def score_tags(metric_config: Any, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]],
               scheme: str) -> dict[str, float]:
    """The task's metric on predicted against gold tags, both in the task's training ``scheme``."""
    metric = METRICS.build(metric_config)
    metric.update(comparable_tags(predicted, scheme), comparable_tags(gold, scheme))
    return metric.compute()


def comparable_tags(tags: Sequence[Sequence[str]], scheme: str) -> list[list[str]]:
    """Span scores are computed on BIO tags, where seqeval and conlleval agree exactly."""
    if scheme != "bioes":
        return [list(t) for t in tags]
    return [convert_tags(t, "bioes", "bio") for t in tags]
