"""Progress of each stage of a run (warm-up, each mask-search round, joint training) with each
task's running loss.

On a terminal it is a tqdm bar labelled with the stage; otherwise (a background run writing to a
file) the same figures go to the log ten times an epoch (or ten times a round's step budget), so a
long run never looks stuck. Log lines on the terminal are written above the open bar
(``add_console_handler``), never onto it.
"""
from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import threading
import time
from typing import Any, Literal

from pydantic import Field
from tqdm import tqdm

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.registry import CALLBACKS, ComponentConfig

logger = logging.getLogger(__name__)

# In a mask-search worker: the parent's queue and this worker's line among the parent's bars.
_parent: tuple[Any, int] | None = None
_SEND_EVERY = 0.2  # seconds between a worker's bar updates


def report_to_parent(reports: Any, line: int, loggers: tuple[str, ...]) -> None:
    """Make this (worker) process send its bars and the records of ``loggers`` (and warnings) to the
    parent, which draws them (``WorkerBars``): bars drawn by several processes on one terminal
    overwrite each other and the lines printed between them."""
    global _parent
    _parent = (reports, line)
    handler = logging.handlers.QueueHandler(reports)
    handler.addFilter(lambda record: record.levelno >= logging.WARNING or record.name in loggers)
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    root.addHandler(handler)


class _SentBar:
    """The part of tqdm's interface ``ProgressBar`` uses, sending its state to the parent."""

    disable = False

    def __init__(self, reports: Any, line: int, total: int, initial: int, desc: str) -> None:
        self.queue, self.line, self.total, self.n, self.desc = reports, line, total, initial, desc
        self.postfix: dict[str, str] = {}
        self.sent = 0.0
        self._send(force=True)

    def _send(self, force: bool = False, closed: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.sent >= _SEND_EVERY:
            self.queue.put(("bar", self.line, self.desc, self.n, self.total, dict(self.postfix), closed))
            self.sent = now

    def update(self, n: int = 1) -> None:
        self.n += n
        self._send()

    def set_postfix(self, postfix: dict[str, str], refresh: bool = True) -> None:
        self.postfix = postfix

    def close(self) -> None:
        self._send(force=True, closed=True)


class WorkerBars:
    """In the parent of mask-search workers: one thread draws every worker's bar on its own line
    and prints their log records above the bars, so the terminal reads like a single process."""

    def __init__(self, reports: Any) -> None:
        self.queue = reports
        self.bars: dict[int, tqdm] = {}
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name="worker-bars", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                message = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.closing.is_set():  # the workers have ended and all they sent is shown
                    return
                continue
            if isinstance(message, logging.LogRecord):
                for handler in logging.getLogger("sparse_sharing").handlers:
                    if isinstance(handler, _AboveBars):
                        handler.handle(message)
                continue
            _, line, desc, n, total, postfix, closed = message
            bar = self.bars.get(line)
            if bar is None or bar.desc.rstrip(": ") != desc:
                if bar is not None:
                    bar.close()
                bar = self.bars[line] = tqdm(total=total, desc=desc, unit="step", file=sys.stderr,
                                             dynamic_ncols=True, leave=False, position=line)
            bar.n = n
            bar.set_postfix(postfix, refresh=False)
            bar.refresh()
            if closed:
                bar.close()
                del self.bars[line]

    def close(self) -> None:
        """After the workers have ended. A worker killed while sending can leave the queue locked,
        so this never waits on the queue, and only briefly on the thread."""
        self.closing.set()
        self.thread.join(timeout=5)
        for bar in list(self.bars.values()):
            bar.close()


class _AboveBars(logging.StreamHandler):
    """Writes each record above the open progress bars, which are drawn again below it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def add_console_handler() -> None:
    """Log the package's records (INFO and up) on stderr, once per process."""
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if any(isinstance(h, _AboveBars) for h in root.handlers):
        return
    handler = _AboveBars(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root.addHandler(handler)


class ProgressBarConfig(ComponentConfig):
    type: Literal["progress_bar"]
    refresh_every: int = Field(20, gt=0, description="Steps between updates of the per-task figures.")


@CALLBACKS.register("progress_bar", config=ProgressBarConfig)
class ProgressBar(Callback):
    """A bar per epoch of joint training; one bar over the whole step budget of a warm-up or a
    search round (``trainer.max_steps``), which ends at 100 % however the budget falls in epochs."""

    def __init__(self, config: ProgressBarConfig) -> None:
        self.refresh_every = config.refresh_every
        self.bar: tqdm | None = None
        self.losses: dict[str, float] = {}
        self.started = time.monotonic()
        self.done = 0  # steps counted here: a disabled tqdm bar does not count
        self.total = 0

    def _label(self, trainer: Any) -> str:
        if trainer.max_steps is not None:
            return trainer.stage
        return f"{trainer.stage} epoch {trainer.epoch + 1}/{trainer.num_epochs}"

    def _open(self, trainer: Any) -> None:
        if trainer.max_steps is not None:
            self.total, initial = trainer.max_steps, trainer.step
        else:
            self.total, initial = trainer.steps_per_epoch, 0
        if _parent is not None and sys.stderr.isatty():
            self.bar = _SentBar(*_parent, self.total, initial, self._label(trainer))
        else:
            self.bar = tqdm(total=self.total, initial=initial, desc=self._label(trainer), unit="step",
                            file=sys.stderr, dynamic_ncols=True, leave=False,
                            disable=None)  # None: no bar when stderr is not a terminal
        self.started = time.monotonic()
        self.done = initial

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
        self.done += 1
        if trainer.step % self.refresh_every == 0:
            self.bar.set_postfix(self._figures(), refresh=False)
        if self.bar.disable and 10 * self.done // self.total > 10 * (self.done - 1) // self.total:
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            logger.info("%s: %d/%d steps, %.1f steps/s; %s", self._label(trainer), self.done, self.total, rate,
                        ", ".join(f"{k} {v}" for k, v in self._figures().items()))

    def on_epoch_end(self, trainer: Any) -> None:
        if trainer.max_steps is None:
            self._close()

    def on_train_end(self, trainer: Any) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
