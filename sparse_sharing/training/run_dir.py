"""Opening a run directory for a new or resumed run (the file names are in ``sparse_sharing.paths``)."""
from __future__ import annotations

import shutil
from pathlib import Path

from sparse_sharing.errors import RunDirError
from sparse_sharing.files import remove_partial_writes
from sparse_sharing.paths import RunPaths


def prepare_run_dir(root: Path, resume: bool, force: bool) -> RunPaths:
    """Refuse to mix two runs in one directory unless the user said which one wins.

    Nothing is created here: ``create_run_dir`` does that once the experiment has been built, so a
    start refused for a config or data error leaves no directory behind.
    """
    paths = RunPaths(Path(root))
    if resume and force:
        raise RunDirError("--resume and --force contradict each other: pick one")
    if paths.root.exists() and not paths.root.is_dir():
        raise RunDirError(f"-s {paths.root}: it is a file, not a directory; name a new or empty directory")
    exists = paths.root.exists() and any(paths.root.iterdir())
    if resume:
        if not paths.config.is_file():
            raise RunDirError(f"cannot resume: {paths.root} holds no run (no {paths.config.name})")
    elif exists and not force:
        raise RunDirError(
            f"run directory {paths.root} is not empty: pass --resume to continue that run "
            f"or --force to delete it and start again"
        )
    return paths


def create_run_dir(paths: RunPaths, resume: bool) -> None:
    """Start the directory afresh (a new run; --force has been checked) or tidy it for a resume."""
    if resume:
        remove_partial_writes(paths.root)
        return
    if paths.root.exists():
        shutil.rmtree(paths.root)
    try:
        paths.root.mkdir(parents=True)
    except OSError as error:
        raise RunDirError(f"cannot create run directory {paths.root}: {error.strerror}") from None
