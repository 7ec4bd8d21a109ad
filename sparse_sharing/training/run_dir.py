"""Opening a run directory for a new or resumed run (the file names are in ``sparse_sharing.paths``)."""
from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sparse_sharing.errors import RunDirError
from sparse_sharing.files import disk_fault, remove_partial_writes
from sparse_sharing.locks import ExclusiveLock
from sparse_sharing.paths import RunPaths

LOCK_PATIENCE_SECONDS = 2.0


def prepare_run_dir(root: Path, resume: bool, force: bool) -> RunPaths:
    """Refuse to mix two runs in one directory unless the user said which one wins.

    Nothing is created here: ``open_run_dir`` does that once the experiment has been built, so a
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


@contextmanager
def open_run_dir(paths: RunPaths, resume: bool) -> Iterator[None]:
    """Start the directory afresh (a new run; --force has been checked) or tidy it for a resume,
    and hold it for this process until the block ends: a second trainer in the same directory is
    refused before it deletes or writes anything (``sparse_sharing.locks``)."""
    lock = ExclusiveLock(paths.root)
    if paths.root.exists():
        _hold(lock, paths)
        if resume:
            remove_partial_writes(paths.root)
        else:
            _empty(paths.root)
    else:
        try:
            paths.root.mkdir(parents=True)
        except OSError as error:
            fault = disk_fault(error)  # a full disk is the machine's fault, said as such
            if fault is not None:
                raise fault from error
            raise RunDirError(f"cannot create run directory {paths.root}: {error.strerror}") from None
        _hold(lock, paths)
    try:
        yield
    finally:
        lock.release()


def _hold(lock: ExclusiveLock, paths: RunPaths) -> None:
    """Take the lock; a moment's patience, since ``ssl sweep --status`` probes it by taking it briefly."""
    deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
    while not lock.acquire():
        if time.monotonic() > deadline:
            raise RunDirError(f"run directory {paths.root} is in use by another process (an `ssl train` or a "
                              f"sweep's run still training there); wait for it to end or stop it")
        time.sleep(0.05)


def _empty(root: Path) -> None:
    """Delete what is in ``root`` but not ``root`` itself, whose lock this process holds."""
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
