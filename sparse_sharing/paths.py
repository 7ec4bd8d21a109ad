"""Every file a run writes, named in one place (bottom layer: components, training and the
commands all find a run's files here, so a file name is never spelt twice)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """The files of one run directory, or of a run nested in one (the warm-up, a task's rounds)."""

    root: Path
    tensorboard_dir: Path | None = None  # a stage inside a run (the warm-up) logs into the run's tensorboard/

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def vocabulary(self) -> Path:
        return self.root / "vocabulary.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def tensorboard(self) -> Path:
        return self.tensorboard_dir or self.root / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    def best_model(self, task: str) -> Path:
        return self.checkpoints / f"best-{task}.pt"

    # ------------------------------------------------------------ chosen masks
    @property
    def masks(self) -> Path:
        return self.root / "masks"

    def mask(self, task: str) -> Path:
        """The task's chosen mask: name → bool tensor, True = kept."""
        return self.masks / f"{task}.pt"

    def packed_mask(self, task: str) -> Path:
        """The same mask bit-packed (8 entries a byte): the form committed under results/."""
        return self.masks / f"{task}.bits"

    def mask_report(self, task: str) -> Path:
        return self.masks / f"{task}.json"

    # -------------------------------------------------------------- the search
    @property
    def search(self) -> Path:
        return self.root / "mask_search"

    @property
    def init_weights(self) -> Path:
        """θ0, the weights the model was built with."""
        return self.search / "init.pt"

    @property
    def warmup_weights(self) -> Path:
        """θw, after the multi-task warm-up."""
        return self.search / "warmup.pt"

    @property
    def warmup_run(self) -> "RunPaths":
        """The warm-up's own metrics and checkpoints; its TensorBoard view is the run's tensorboard/warmup."""
        return RunPaths(self.search / "warmup", tensorboard_dir=self.tensorboard / "warmup")

    def search_board(self, task: str) -> Path:
        """TensorBoard view of the task's rounds (dev_score, kept_fraction per round)."""
        return self.tensorboard / "mask_search" / task

    def task_search(self, task: str) -> "RunPaths":
        """One task's search: its rounds, and the metrics of the round training last."""
        return RunPaths(self.search / task)

    def dense_weights(self, task: str) -> Path:
        """The prunable weights after the `one_shot` source's dense training of the task."""
        return self.task_search(task).root / "dense.pt"

    def dense_record(self, task: str) -> Path:
        """The `one_shot` source's dense training of the task: its steps and seconds."""
        return self.task_search(task).root / "dense.json"

    def round_masks(self, task: str, k: int) -> Path:
        """Candidate (round) k's mask; for a `search`, also the mask its pruning produced."""
        return self.task_search(task).root / f"round_{k:02d}.pt"

    def round_record(self, task: str, k: int) -> Path:
        """Candidate (round) k's kept fraction, dev score, steps and time."""
        return self.task_search(task).root / f"round_{k:02d}.json"
