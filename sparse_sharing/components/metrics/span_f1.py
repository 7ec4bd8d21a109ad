"""Span precision, recall and F1, counted by the chunk rules of conlleval, the CoNLL scorer.

seqeval's default mode applies those rules, so IOB1 and BIO figures are comparable with
published chunking and NER results and a head's tag scheme needs no configuring here. For
BIOES it also closes a chunk at E-X and S-X, which conlleval.pl (2004-01-26) does not: the
script merges adjacent same-type BIOES chunks (S-X S-X, E-X B-X), so on such input its
figures are wrong and these are the intended ones.
"""
from __future__ import annotations

from typing import Literal, Sequence

from pydantic import Field

from sparse_sharing.components.metrics.base import Metric, check_aligned
from sparse_sharing.registry import METRICS, ComponentConfig


class SpanF1Config(ComponentConfig):
    type: Literal["span_f1"] = Field(
        description="Micro-averaged span F1 (conlleval rules; IOB1, BIO or BIOES tags), with per-type F1."
    )


@METRICS.register("span_f1", config=SpanF1Config)
class SpanF1(Metric):
    name = "span_f1"

    def __init__(self, config: SpanF1Config) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        # Whole sentences are kept because a span's extent is only known once the
        # sentence is read; seqeval then scores the corpus in one go, as conlleval does.
        self._predicted: list[list[str]] = []
        self._gold: list[list[str]] = []

    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        check_aligned(predicted, gold)
        # seqeval recognises sentences only as lists, so other sequences are copied into lists.
        self._predicted.extend(list(tags) for tags in predicted)
        self._gold.extend(list(tags) for tags in gold)

    def compute(self) -> dict[str, float]:
        # Imported here: seqeval pulls in scikit-learn and SciPy, over a second at every CLI start.
        from seqeval.metrics import f1_score, precision_score, recall_score
        from seqeval.metrics.sequence_labeling import get_entities

        gold, predicted = self._gold, self._predicted
        # zero_division=0 gives conlleval's 0.0 for a set without spans, and stops
        # seqeval warning about it on every evaluation.
        f1 = 100.0 * f1_score(gold, predicted, zero_division=0)
        figures = {
            "score": f1,
            "precision": 100.0 * precision_score(gold, predicted, zero_division=0),
            "recall": 100.0 * recall_score(gold, predicted, zero_division=0),
            "f1": f1,
        }
        # seqeval reports per-type figures in the sorted order of every type seen on either side.
        types = sorted({span[0] for span in get_entities(gold)} | {span[0] for span in get_entities(predicted)})
        per_type = f1_score(gold, predicted, average=None, zero_division=0)
        for type_name, type_f1 in zip(types, per_type, strict=True):
            figures[f"f1-{type_name}"] = 100.0 * type_f1
        return {key: float(value) for key, value in figures.items()}
