"""Every file name of a run directory in one place, and writes that never leave half a file."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sparse_sharing.errors import RunDirError


@dataclass(frozen=True)
class RunPaths:
    root: Path

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
        return self.root / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    def best_model(self, task: str) -> Path:
        return self.checkpoints / f"best-{task}.pt"


def atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same directory, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda s: s.write((json.dumps(data, indent=2, sort_keys=False) + "\n").encode()))


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda s: torch.save(obj, s))


def load_torch(path: Path) -> Any:
    """Checkpoints hold only tensors and plain containers, so the safe loader reads them."""
    return torch.load(path, map_location="cpu", weights_only=True)


def prepare_run_dir(root: Path, resume: bool, force: bool) -> RunPaths:
    """Refuse to mix two runs in one directory unless the user said which one wins."""
    paths = RunPaths(Path(root))
    if resume and force:
        raise RunDirError("--resume and --force contradict each other: pick one")
    exists = paths.root.exists() and any(paths.root.iterdir())
    if resume:
        if not paths.config.is_file():
            raise RunDirError(f"cannot resume: {paths.root} holds no run (no {paths.config.name})")
    elif exists:
        if not force:
            raise RunDirError(
                f"run directory {paths.root} is not empty: pass --resume to continue that run "
                f"or --force to delete it and start again"
            )
        shutil.rmtree(paths.root)
    paths.root.mkdir(parents=True, exist_ok=True)
    return paths
