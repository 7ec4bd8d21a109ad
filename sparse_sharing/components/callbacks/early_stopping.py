"""Stop when no task's dev score has improved for ``patience`` evaluations.

``min_delta`` (the name Keras and Lightning use) asks more of an improvement: a task's dev score
must beat the best this callback has counted by more than ``min_delta`` points (under
``trainer.selection: mean``, the mean over tasks must). Why: with several tasks, one of them
gains a few hundredths almost every evaluation, so "no task improved" rarely holds and joint
runs go to their last epoch long after every curve has flattened. The trainer's dev-best
selection is unchanged: it still keeps any gain.
"""
from __future__ import annotations

import logging
import statistics
from typing import Any, Literal

from pydantic import Field

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.records import Evaluation, dev_score
from sparse_sharing.registry import CALLBACKS, ComponentConfig

logger = logging.getLogger(__name__)


class EarlyStoppingConfig(ComponentConfig):
    type: Literal["early_stopping"]
    patience: int = Field(10, gt=0, description="Evaluations without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Points a dev score must gain over its best so far to count "
                             "as an improvement; 0: any gain (the trainer's own notion).")


@CALLBACKS.register("early_stopping", config=EarlyStoppingConfig)
class EarlyStopping(Callback):
    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.patience = config.patience
        self.min_delta = config.min_delta
        self.bad_evaluations = 0
        self.best: dict[str, float] = {}  # with min_delta: the scores counted as improvements ("mean": the mean)

    def on_evaluation(self, trainer: Any, record: Evaluation, improved: list[str]) -> None:
        if self.min_delta:
            improved = self._improved_by_min_delta(trainer, record)
        self.bad_evaluations = 0 if improved else self.bad_evaluations + 1
        if self.bad_evaluations >= self.patience:
            gain = f" of more than {self.min_delta} points" if self.min_delta else ""
            logger.info("early stopping: no dev improvement%s in %d evaluations", gain, self.patience)
            trainer.should_stop = True

    def _improved_by_min_delta(self, trainer: Any, record: Evaluation) -> list[str]:
        scores = {task: dev_score(splits) for task, splits in record["tasks"].items()}
        if trainer.trainer_config.selection == "mean":
            scores = {"mean": statistics.fmean(scores.values())}
        improved = [t for t, v in scores.items() if t not in self.best or v > self.best[t] + self.min_delta]
        self.best.update((t, scores[t]) for t in improved)
        return improved

    def state_dict(self) -> dict[str, Any]:
        return {"bad_evaluations": self.bad_evaluations, "best": dict(self.best)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bad_evaluations = state["bad_evaluations"]
        self.best = dict(state.get("best", {}))  # a checkpoint from before min_delta has none
