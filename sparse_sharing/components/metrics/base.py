"""The interface the trainer scores dev and test sets through, whatever the task."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Sequence


class Metric(ABC):
    """Accumulates tag sequences over an evaluation pass, then reports figures in percent.

    ``compute()`` always has a ``"score"`` key so that model selection and early stopping
    can compare any task's metric without knowing which one it is.
    """

    name: ClassVar[str]

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen, so one instance can serve every evaluation pass."""

    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        """Add a batch of sentences; a misaligned batch is rejected whole, so state stays consistent.

        Misalignment means a bug upstream (padding not stripped, sentences shuffled), and
        silently zipping would hide it behind a plausible-looking score.
        """
        if len(predicted) != len(gold):
            raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold sentences.")
        for index, (predicted_tags, gold_tags) in enumerate(zip(predicted, gold)):
            if len(predicted_tags) != len(gold_tags):
                raise ValueError(
                    f"Sentence {index}: {len(predicted_tags)} predicted tags for {len(gold_tags)} gold tags."
                )
        self._add(predicted, gold)

    @abstractmethod
    def _add(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        """Accumulate a batch already checked to be aligned."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """Figures in percent over everything since the last reset; ``"score"`` is the main one."""
