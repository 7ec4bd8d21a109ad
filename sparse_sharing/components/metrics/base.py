"""The interface the trainer scores dev and test sets through, whatever the task."""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

from sparse_sharing.registry import PluginDeprecationWarning


class Metric(ABC):
    """Accumulates tag sequences over an evaluation pass, then reports figures in percent.

    ``compute()`` always has a ``"score"`` key so that model selection and early stopping
    can compare any task's metric without knowing which one it is.

    Before plugin API 3 a subclass implemented ``_add`` (``update`` checked the batch and called
    it); such a subclass still works, with a ``PluginDeprecationWarning``: it is given an
    ``update`` that does just that.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_add" in vars(cls) and "update" not in vars(cls) and cls.update is Metric.update:
            warnings.warn_explicit(
                f"metric {cls.__module__}.{cls.__qualname__} implements `_add`, the form before plugin API 3; "
                f"implement `update(self, predicted, gold)` (docs/plugins.md#metric). It is adapted for now and "
                f"will be refused in a later release.", PluginDeprecationWarning,
                cls._add.__code__.co_filename, cls._add.__code__.co_firstlineno, module=cls.__module__)
            cls.update = _update_through_add  # type: ignore[method-assign]

    def __init__(self, config: Any = None) -> None:
        """Built as ``factory(config)``: the config is kept, and the metric starts empty."""
        self.config = config
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen, so one instance can serve every evaluation pass."""

    @abstractmethod
    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        """Add a batch of sentences: per sentence, its tags as strings (``["B-PER", "O"]``)."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """Figures in percent over everything since the last reset; ``"score"`` is the main one."""


def check_aligned(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
    """Refuse a misaligned batch whole, before any of it is added, so a metric's state stays consistent.

    Misalignment means a bug upstream (padding not stripped, sentences shuffled), and
    silently zipping would hide it behind a plausible-looking score.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold sentences.")
    for index, (predicted_tags, gold_tags) in enumerate(zip(predicted, gold)):
        if len(predicted_tags) != len(gold_tags):
            raise ValueError(f"Sentence {index}: {len(predicted_tags)} predicted tags for {len(gold_tags)} gold tags.")


def _update_through_add(self: Any, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
    check_aligned(predicted, gold)
    self._add(predicted, gold)
