"""Writing files that are never half written, and reading tensors safely.

The bottom layer: every other module may use it, it imports nothing of the package but
``errors``. Checkpoints and masks hold only tensors and plain containers, so the safe loader
(``weights_only=True``) reads all of them.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from sparse_sharing.errors import PluginError


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
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


def check_loads_safely(state: Any, what: str) -> None:
    """Fail now, not at --resume, if ``state`` (a component's ``state_dict()``) is something the safe
    loader refuses: only tensors, numbers, strings, lists, tuples and dicts go into checkpoints."""
    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
        buffer.seek(0)
        torch.load(buffer, map_location="cpu", weights_only=True)
    except Exception as error:  # the pickler's or the safe unpickler's refusal, whatever its class
        raise PluginError(f"the state of {what} cannot be read back with torch.load(weights_only=True), as "
                          f"checkpoints are: keep to tensors, numbers, strings, lists and dicts ({error})") from None
