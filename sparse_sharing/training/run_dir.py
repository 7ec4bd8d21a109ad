"""Opening a run directory for a new or resumed run (the file names are in ``sparse_sharing.paths``)."""
from __future__ import annotations

import shutil
from pathlib import Path

from sparse_sharing.errors import RunDirError
from sparse_sharing.paths import RunPaths


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
