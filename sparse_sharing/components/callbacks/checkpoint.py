"""Dev-best model per task and the last full training state, each written atomically."""
from __future__ import annotations

from typing import Any, Literal

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.records import Evaluation
from sparse_sharing.registry import CALLBACKS, ComponentConfig
from sparse_sharing.files import save_torch


class CheckpointConfig(ComponentConfig):
    type: Literal["checkpoint"]


@CALLBACKS.register("checkpoint", config=CheckpointConfig)
class Checkpoint(Callback):
    """`last.pt` (everything needed to resume) after each epoch; `best-<task>.pt` (weights) on improvement."""

    def __init__(self, config: CheckpointConfig) -> None:
        pass

    def on_evaluation(self, trainer: Any, record: Evaluation, improved: list[str]) -> None:
        if improved:
            weights = trainer.model.state_dict()
            for task in improved:
                save_torch(trainer.paths.best_model(task), weights)

    def on_epoch_end(self, trainer: Any) -> None:
        save_torch(trainer.paths.last_checkpoint, trainer.state_dict())
