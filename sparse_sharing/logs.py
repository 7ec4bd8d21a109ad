"""Where the package's log goes. Only process entry points call this: `ssl train` (through
``training.pipeline``, once the run directory exists), and the mask search's worker processes
(each its own process, writing to the run's log)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def held_records() -> Iterator[list[logging.LogRecord]]:
    """The package's records while the log file cannot exist yet (a run directory is created only
    once the experiment is built), for ``log_to_file(path, earlier=...)`` to write afterwards."""
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    held = _Held()
    root.addHandler(held)
    try:
        yield held.records
    finally:
        root.removeHandler(held)


def log_to_file(path: Path, earlier: Sequence[logging.LogRecord] = ()) -> None:
    """Everything the package logs also goes to ``path`` (once per process); ``earlier`` records
    (``held_records``) are written to it first."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if any(getattr(h, "baseFilename", None) == target for h in root.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for record in earlier:
        handler.handle(record)
    root.addHandler(handler)


def detach_log_file(path: Path) -> None:
    """Stop logging to ``path`` (a refused start removes its run directory, log and all)."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == target]:
        root.removeHandler(handler)
        handler.close()
