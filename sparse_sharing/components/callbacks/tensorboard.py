"""TensorBoard scalars: per-task train loss, dev and test metrics, learning rates, task sampling counts,
and the weights a sharing strategy learns (cross-stitch units, sluice α and β) at each evaluation;
and a mask search's rounds, one point a round (``write_search_rounds``).
Written in the loop's own thread (``EventFile``), so a full disk stops the run like any other write."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import Field

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.callbacks.event_file import EventFile
from sparse_sharing.components.records import CandidateRecord, Evaluation
from sparse_sharing.registry import CALLBACKS, ComponentConfig


class TensorBoardConfig(ComponentConfig):
    type: Literal["tensorboard"]
    log_every: int = Field(50, gt=0, description="Steps between train-loss points (mean over the interval).")


@CALLBACKS.register("tensorboard", config=TensorBoardConfig)
class TensorBoard(Callback):
    def __init__(self, config: TensorBoardConfig) -> None:
        self.log_every = config.log_every
        self.writer: EventFile | None = None
        self.loss_sums: dict[str, float] = defaultdict(float)
        self.loss_counts: dict[str, int] = defaultdict(int)
        self.sampled: dict[str, int] = defaultdict(int)

    def on_train_start(self, trainer: Any) -> None:
        self.writer = EventFile(trainer.paths.tensorboard, purge_step=trainer.step or None)

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None:
        self.loss_sums[task] += loss
        self.loss_counts[task] += 1
        self.sampled[task] += 1
        if trainer.step % self.log_every == 0:
            self._write_interval(trainer)

    def _write_interval(self, trainer: Any) -> None:
        """The mean train loss since the last point, every optimizer's learning rates, sampling counts."""
        for t, count in self.loss_counts.items():
            if count:
                self.writer.add_scalar(f"train_loss/{t}", self.loss_sums[t] / count, trainer.step)
        self.loss_sums.clear()
        self.loss_counts.clear()
        for name, optimizer in _named_optimizers(trainer).items():
            for i, group in enumerate(optimizer.param_groups):
                self.writer.add_scalar(f"learning_rate/{name}group{i}", group["lr"], trainer.step)
        for t, count in self.sampled.items():
            self.writer.add_scalar(f"sampled_steps/{t}", count, trainer.step)
        self.writer.flush()

    def on_evaluation(self, trainer: Any, record: Evaluation, improved: list[str]) -> None:
        for task, splits in record["tasks"].items():
            for split, figures in splits.items():
                for name, value in figures.items():
                    self.writer.add_scalar(f"{split}/{task}/{name}", value, trainer.step)
        for name, value in trainer.model.sharing.summaries().items():
            self.writer.add_scalar(f"sharing/{name}", value, trainer.step)
        self.writer.flush()

    def on_train_end(self, trainer: Any) -> None:
        if self.writer is not None:
            if any(self.loss_counts.values()):  # the steps after the last full interval
                self._write_interval(trainer)
            self.writer.close()

    def state_dict(self) -> dict[str, Any]:
        return {"sampled": dict(self.sampled)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampled.update(state["sampled"])


def _named_optimizers(trainer: Any) -> dict[str, Any]:
    """One optimizer: no prefix (``learning_rate/group0``); one per task (sparse sharing):
    ``learning_rate/<task>/group0``, named by the tasks that step it."""
    if len(trainer.distinct_optimizers) == 1:
        return {"": trainer.distinct_optimizers[0]}
    users: dict[int, list[str]] = defaultdict(list)
    for task, optimizer in trainer.optimizers.items():
        users[id(optimizer)].append(task)
    return {"+".join(users[id(o)]) + "/": o for o in trainer.distinct_optimizers}


def write_search_rounds(directory: Path, task: str, records: Sequence[CandidateRecord]) -> None:
    """Each candidate's (round's) dev score and kept fraction as TensorBoard points (x = round)."""
    writer = EventFile(directory)
    for record in records:
        writer.add_scalar(f"mask_search/{task}/dev_score", record["dev_score"], record["round"])
        writer.add_scalar(f"mask_search/{task}/kept_fraction", record["kept_fraction"], record["round"])
    writer.close()
