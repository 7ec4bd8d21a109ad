"""Progress of the current epoch with each task's running loss.

On a terminal it is a tqdm bar; otherwise (a background run writing to a file) the same
figures go to the log ten times an epoch, so a long run never looks stuck.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

from pydantic import Field
from tqdm import tqdm

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.registry import CALLBACKS, ComponentConfig

logger = logging.getLogger(__name__)


class ProgressBarConfig(ComponentConfig):
    type: Literal["progress_bar"]
    refresh_every: int = Field(20, gt=0, description="Steps between updates of the per-task figures.")


@CALLBACKS.register("progress_bar", config=ProgressBarConfig)
class ProgressBar(Callback):
    def __init__(self, config: ProgressBarConfig) -> None:
        self.refresh_every = config.refresh_every
        self.bar: tqdm | None = None
        self.losses: dict[str, float] = {}
        self.epoch_started = time.monotonic()
        self.epoch_steps = 0  # counted here: a disabled tqdm bar does not count

    def _open(self, trainer: Any) -> None:
        self.bar = tqdm(total=trainer.steps_per_epoch, desc=f"epoch {trainer.epoch + 1}/{trainer.num_epochs}",
                        unit="batch", file=sys.stderr, dynamic_ncols=True, leave=False,
                        disable=None)  # None: no bar when stderr is not a terminal
        self.epoch_started = time.monotonic()
        self.epoch_steps = 0

    def on_train_start(self, trainer: Any) -> None:
        self._open(trainer)

    def _figures(self) -> dict[str, str]:
        return {f"{t} loss": f"{v:.3f}" for t, v in sorted(self.losses.items())}

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None:
        previous = self.losses.get(task)
        self.losses[task] = loss if previous is None else 0.98 * previous + 0.02 * loss
        if self.bar is None:
            self._open(trainer)
        self.bar.update(1)
        self.epoch_steps += 1
        if trainer.step % self.refresh_every == 0:
            self.bar.set_postfix(self._figures(), refresh=False)
        tenths = 10 * self.epoch_steps // trainer.steps_per_epoch
        if self.bar.disable and tenths > 10 * (self.epoch_steps - 1) // trainer.steps_per_epoch:
            rate = self.epoch_steps / max(time.monotonic() - self.epoch_started, 1e-9)
            logger.info("epoch %d: %d/%d steps, %.1f steps/s; %s", trainer.epoch + 1, self.epoch_steps,
                        trainer.steps_per_epoch, rate, ", ".join(f"{k} {v}" for k, v in self._figures().items()))

    def on_epoch_end(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, trainer: Any) -> None:
        self.on_epoch_end(trainer)
