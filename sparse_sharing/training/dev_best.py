"""The weights a training under a mask ends with, as the sparse-sharing authors' trainer keeps them:
those of its dev-best evaluation.

The authors train each pruning round to convergence and reload the round's best-dev epoch before
pruning, and record that dev score. A round that spans several evaluations (``epochs_per_round``
above one, or ``trainer.evaluate_every_steps``) is pruned from the weights of its best one here
too, not from whatever its last step left; with one evaluation (at the end of the round's
budget) the two are the same weights.
"""
from __future__ import annotations

from typing import Any

import torch

from sparse_sharing.components.callbacks.base import Callback


class DevBestWeights(Callback):
    """Copies ``task``'s prunable weights whenever its dev score improves (the trainer's own rule:
    strictly better, so a tie keeps the earlier evaluation)."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.weights: dict[str, torch.Tensor] | None = None

    def on_evaluation(self, trainer: Any, record: dict[str, Any], improved: list[str]) -> None:
        if self.task in improved:
            sharing = trainer.model.sharing
            self.weights = {n: w.detach().clone() for n, w in sharing.prunable_weights(self.task).items()}
