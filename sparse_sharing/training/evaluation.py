"""Decoding a dataset and scoring it; shared by the loop, `ssl evaluate` and `ssl predict`."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from sparse_sharing.components.data.batching import IndexedDataset, evaluation_batches
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.registry import METRICS
from sparse_sharing.training.model import MultiTaskTagger


def predict_tags(model: MultiTaskTagger, dataset: IndexedDataset, task: str, vocab: Vocabulary,
                 batch_size: int, device: torch.device = torch.device("cpu")) -> list[list[str]]:
    """Predicted label strings per sentence, in the dataset's order."""
    was_training = model.training
    model.eval()
    predicted: list[list[str] | None] = [None] * len(dataset)
    for batch in evaluation_batches(dataset, batch_size):
        for index, ids in zip(batch.indices, model.decode(batch.to(device), task)):
            predicted[index] = [vocab.label(task, i) for i in ids]
    model.train(was_training)
    return predicted  # type: ignore[return-value]


def score(metric_config: Any, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    metric = METRICS.build(metric_config)
    metric.update(predicted, gold)
    return metric.compute()
