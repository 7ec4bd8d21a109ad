"""Writing files that are never half written, and reading tensors safely (with advice when they are broken).

The bottom layer: every other module may use it, it imports nothing of the package but
``errors``. Checkpoints and masks hold only tensors and plain containers, so the safe loader
(``weights_only=True``) reads all of them.
"""
from __future__ import annotations

import functools
import io
import json
import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from sparse_sharing.errors import PluginError, RunDirError


TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through a temporary file in the same directory, then rename over the target.

    The file gets the mode a plain ``open`` would give (0644 under the usual umask 022), not
    ``mkstemp``'s 0600: run directories are shared. A kill between the two steps leaves a
    ``.<name>.*.tmp`` file, which ``remove_partial_writes`` deletes when the run resumes.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    except OSError as error:
        raise RunDirError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):  # a full disk, a directory in the way
            raise RunDirError(f"cannot write {path}: {error.strerror or error}") from None
        raise


@functools.cache
def _umask() -> int:
    """The process's umask; reading it means setting it, so once, before any thread writes."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_partial_writes(root: Path) -> list[Path]:
    """Delete the temporary files of writes that a kill interrupted anywhere under ``root``."""
    removed = [p for p in root.rglob(f".*{TMP_SUFFIX}") if p.is_file()]
    for partial in removed:
        partial.unlink(missing_ok=True)
    return removed


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda s: s.write((json.dumps(data, indent=2, sort_keys=False) + "\n").encode()))


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda s: torch.save(obj, s))


REDO = "delete it (a resumed run redoes the work it held) or restore it from a backup"


def load_torch(path: Path, what: str = "checkpoint", advice: str = "") -> Any:
    """Read a checkpoint or mask file with torch's safe loader, or say in one line why it is unusable.

    The safe loader (``weights_only``) reads tensors and plain containers only, so a file with
    pickled code is refused, never run. A run directory may come from anyone and may have been
    cut short by a full disk: every way the file can be broken is the user's to fix, not a bug.
    ``advice`` says what to do about a broken file (default: delete it and resume).
    """
    advice = advice or REDO
    if not path.is_file():
        raise RunDirError(f"{what} {path} does not exist")
    if path.stat().st_size == 0:
        raise RunDirError(f"{what} {path} is empty (0 bytes): it was cut short; {advice}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"GLOBAL ([\w.]+)", str(error))
        if refused:
            raise RunDirError(f"{what} {path} holds Python objects that the safe loader refuses to load (it names "
                              f"{refused[1]}); sparse-sharing never writes such files: do not use it, and "
                              f"{advice}") from None
        raise RunDirError(f"{what} {path} is damaged or not a torch file (the safe loader cannot read it); "
                          f"{advice}") from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError, KeyError, IndexError,
            UnicodeDecodeError) as error:
        raise RunDirError(f"{what} {path} is damaged or not a torch file ({first_line(error)}); {advice}") from None


def load_weights(model: torch.nn.Module, state: Any, path: Path, load: Callable[[Any], Any] | None = None) -> None:
    """Load a weights file into ``model`` (with ``load``, default ``model.load_state_dict``), or
    say which file does not fit it: the tensors of another model config, or not a state dict at all."""
    try:
        (load or model.load_state_dict)(state)
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise RunDirError(f"{path} does not fit this run's model ({first_line(error)}); it was written for "
                          f"another model config: delete it, or restore the run's own file") from None


def first_line(error: BaseException) -> str:
    """An exception's message shortened to fit in one error line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (" ".join(lines[:2]) if lines else type(error).__name__)[:300]


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
