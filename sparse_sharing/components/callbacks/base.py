"""Hooks that keep the training loop generic. State a callback returns is saved in checkpoints."""
from __future__ import annotations

from typing import Any

from sparse_sharing.components.records import Evaluation


class Callback:
    """Every hook is optional. ``state_dict`` is restored on ``--resume`` before ``on_train_start``.

    ``trainer`` is the running ``sparse_sharing.training.trainer.Trainer`` (a layer above: named,
    not imported): ``step``, ``epoch``, ``model``, ``paths``, ``history``, ``should_stop``...
    """

    def __init__(self, config: Any = None) -> None:
        """Built as ``factory(config)``; the config is kept for the hooks."""
        self.config = config

    def on_train_start(self, trainer: Any) -> None:
        pass

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None:
        pass

    def on_evaluation(self, trainer: Any, record: Evaluation, improved: list[str]) -> None:
        """After each dev evaluation; ``improved`` lists the tasks whose dev-best just changed."""

    def on_epoch_end(self, trainer: Any) -> None:
        pass

    def on_train_end(self, trainer: Any) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
