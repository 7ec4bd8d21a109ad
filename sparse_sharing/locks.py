"""One process at a time in a directory's work: two trainers resuming one run directory (a sweep
restarted while runs of the killed one still train, or a second terminal) would interleave their
steps and checkpoints without an error, so each holds an exclusive lock while it works.

``fcntl.flock``: the kernel drops the lock when the holder exits, even by ``kill -9``, so a
crash never leaves a stale lock behind, and a locked directory needs no lock file in it.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


class ExclusiveLock:
    """A non-blocking exclusive lock on a file (created if missing) or on a directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False where another open of the path holds it (in this process or another)."""
        flags = os.O_RDONLY if self.path.is_dir() else os.O_RDWR | os.O_CREAT
        fd = os.open(self.path, flags, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def is_held_elsewhere(self) -> bool:
        """Whether another holder has the lock now (a probe: takes and drops it where free)."""
        if not self.path.exists():
            return False
        if self.acquire():
            self.release()
            return False
        return True
