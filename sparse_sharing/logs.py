"""Where the package's log goes. Only process entry points call this: `ssl train` (through
``training.pipeline``, once the run directory exists), and the mask search's worker processes
(each its own process, writing to the run's log)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from sparse_sharing.errors import DiskFull
from sparse_sharing.files import append


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


class _RunLog(logging.Handler):
    """Appends each record to the run's log as one whole line (``files.append``).

    Not ``logging.FileHandler``: on a full disk that prints a traceback to stderr for every record
    and leaves half a line. Here the first failed line raises ``DiskFull`` out of the logging
    call, so the run stops with one message (like any other write that fails); later records are
    dropped, not tried again, so logging while the run winds down cannot raise a second time.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.path = path
        self.baseFilename = str(path.resolve())  # the attribute FileHandler has, to find it by
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)  # a bad format string in a logging call: logging's own report
            return
        try:
            append(self.path, line.encode("utf-8"))
        except DiskFull:
            self.failed = True
            raise


def log_to_file(path: Path, earlier: Sequence[logging.LogRecord] = ()) -> None:
    """Everything the package logs also goes to ``path`` (once per process); ``earlier`` records
    (``held_records``) are written to it first."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if any(getattr(h, "baseFilename", None) == target for h in root.handlers):
        return
    handler = _RunLog(Path(path))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for record in earlier:
        handler.handle(record)
    root.addHandler(handler)


class _ToPackageHandlers(logging.Handler):
    """Hands a record to the handlers of the package's logger (console, run log, a worker's queue),
    not to the package logger itself: the record already goes up its own logger's chain to the root."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        for handler in logging.getLogger("sparse_sharing").handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


def show_records_of(loggers: Iterable[str]) -> None:
    """The INFO and higher records of ``loggers`` outside the package (a plugin component's modules)
    go where the package's own go, once per process; the package's loggers already do."""
    for name in loggers:
        if name == "sparse_sharing" or name.startswith("sparse_sharing."):
            continue
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # else inherited from the root: WARNING
            logger.setLevel(logging.INFO)
        if not any(isinstance(h, _ToPackageHandlers) for h in logger.handlers):
            logger.addHandler(_ToPackageHandlers())


def detach_log_file(path: Path) -> None:
    """Stop logging to ``path`` (a refused start removes its run directory, log and all)."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == target]:
        root.removeHandler(handler)
        handler.close()
