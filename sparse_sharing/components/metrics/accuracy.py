"""Token accuracy: the standard figure for part-of-speech tagging."""
from __future__ import annotations

from typing import Literal, Sequence

from pydantic import Field

from sparse_sharing.components.metrics.base import Metric, check_aligned
from sparse_sharing.registry import METRICS, ComponentConfig


class AccuracyConfig(ComponentConfig):
    type: Literal["accuracy"] = Field(description="Percentage of tokens whose predicted tag equals the gold tag.")


@METRICS.register("accuracy", config=AccuracyConfig)
class Accuracy(Metric):
    name = "accuracy"

    def __init__(self, config: AccuracyConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._correct = 0
        self._total = 0

    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        check_aligned(predicted, gold)
        for predicted_tags, gold_tags in zip(predicted, gold):
            self._correct += sum(p == g for p, g in zip(predicted_tags, gold_tags))
            self._total += len(gold_tags)

    def compute(self) -> dict[str, float]:
        # An empty evaluation set scores 0 rather than raising, so a misconfigured split
        # shows up as a bad number in the logs instead of crashing a long run at its end.
        accuracy = 100.0 * self._correct / self._total if self._total else 0.0
        return {"score": accuracy, "accuracy": accuracy}
