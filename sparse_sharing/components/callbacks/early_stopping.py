"""Stop when no task's dev score has improved for ``patience`` evaluations."""
from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.records import Evaluation
from sparse_sharing.registry import CALLBACKS, ComponentConfig

logger = logging.getLogger(__name__)


class EarlyStoppingConfig(ComponentConfig):
    type: Literal["early_stopping"]
    patience: int = Field(10, gt=0, description="Evaluations without improvement before stopping.")


@CALLBACKS.register("early_stopping", config=EarlyStoppingConfig)
class EarlyStopping(Callback):
    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.patience = config.patience
        self.bad_evaluations = 0

    def on_evaluation(self, trainer: Any, record: Evaluation, improved: list[str]) -> None:
        self.bad_evaluations = 0 if improved else self.bad_evaluations + 1
        if self.bad_evaluations >= self.patience:
            logger.info("early stopping: no dev improvement in %d evaluations", self.patience)
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bad_evaluations = state["bad_evaluations"]
