"""Child processes that end with their parent, even when the parent is killed with ``kill -9``
(which runs no cleanup of its own): mask-search workers, and the runs an ``ssl sweep`` starts.
Without this they would train on, unseen, writing into run directories.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

# The sweep tells each `ssl train` it starts whose child it is (the run lives in its own session,
# so the terminal's Ctrl-C reaches only the sweep, which stops its runs itself).
PARENT_ENV = "SPARSE_SHARING_PARENT_PID"

POLL_SECONDS = 0.2


def when_parent_ends(parent: int, act: Callable[[], None]) -> None:
    """Call ``act`` (in a daemon thread) once this process's parent ``parent`` has gone: the
    process is then re-parented, so its parent pid changes."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        act()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def parent_from_environment() -> int | None:
    """The pid in ``PARENT_ENV``, if the process was started by a sweep and that sweep still is its parent."""
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() and int(value) == os.getppid() else None
