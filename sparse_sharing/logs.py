"""Where the package's log goes. Only process entry points call this: the CLI, and the mask
search's worker processes (each its own process, writing to the run's log)."""
from __future__ import annotations

import logging
from pathlib import Path


def log_to_file(path: Path) -> None:
    """Everything the package logs also goes to ``path`` (once per process)."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if any(getattr(h, "baseFilename", None) == target for h in root.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


def detach_log_file(path: Path) -> None:
    """Stop logging to ``path`` (a refused start removes its run directory, log and all)."""
    target = str(Path(path).resolve())
    root = logging.getLogger("sparse_sharing")
    for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == target]:
        root.removeHandler(handler)
        handler.close()
