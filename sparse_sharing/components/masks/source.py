"""What a mask source is given and gives back (``masks`` block; contract:
``sparse_sharing.registry.contracts.MaskSourceContract``).

A source finds one task's mask at a time. It does not train by itself: the runner that owns
the training loop (``sparse_sharing.training.runner``) hands it a ``MaskContext``,
which trains the task under a given mask from the run's rewind point, so sources stay below
the training layer and a new one (gradual pruning, one-shot pruning) is one registered class.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch

from sparse_sharing.paths import RunPaths

Mask = dict[str, torch.Tensor]  # trunk-relative name → bool tensor, True = kept


@dataclass(frozen=True)
class TrainedMask:
    """What training a task under a mask gave: the dev score and the prunable weights of its dev-best
    evaluation (the last one when it had one), as the authors reload a round's best-dev epoch."""

    dev_score: float
    steps: int
    weights: dict[str, torch.Tensor]


class MaskContext(Protocol):
    """The runner's side: the run's files and model, and a way to train one task under a mask."""

    paths: RunPaths  # the run's files: keep intermediate artifacts under paths.task_search(task)
    seed: int  # the experiment's seed

    def mask_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name → shape of every tensor a mask covers."""

    def batches_per_epoch(self, task: str) -> int:
        """The task's training batches in one pass over its data."""

    def train(self, task: str, mask: Mask, steps: int, seed: int, callbacks: Sequence[Any] = (),
              stage: str | None = None) -> TrainedMask:
        """Rewind to the rewind point (θw, or θ0 without a warm-up), train ``task`` alone under ``mask``
        for ``steps`` steps (random numbers seeded by ``seed``; extra loop ``callbacks`` may be given),
        score dev (never test) and give back the dev-best evaluation's score and weights. Metrics go to
        ``paths.task_search(task)``; ``stage`` labels the progress bar (default ``mask search <task>``);
        each evaluation is logged at debug level only."""


class MaskSource(ABC):
    """Base of a mask source; the defaults suit a source that needs no training."""

    needs_rewind_point = True  # the runner saves θ0 (and θw) first, and joint training starts there
    warmup_steps = 0  # multi-task warm-up steps before any task's search; 0 = rewind to θ0
    jobs = 1  # tasks whose ``find`` may run at once, in worker processes

    @abstractmethod
    def find(self, task: str, context: MaskContext) -> tuple[Mask, dict[str, Any]]:
        """The task's chosen mask and its report's metadata (round, dev_score, ...), resuming from
        whatever of the task's work ``context.paths`` already holds."""
