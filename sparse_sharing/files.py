"""Writing files that are never half written, and reading tensors safely (with advice when they are broken).

The bottom layer: every other module may use it, it imports nothing of the package but
``errors``. Checkpoints and masks hold only tensors and plain containers, so the safe loader
(``weights_only=True``) reads all of them.

Every file the package writes goes through ``atomic_write`` (a whole file) or ``append`` (a
record added to a log), so a full disk is handled here once, for every writer present and
future: what was half written is removed, and ``DiskFull`` names the file, its file system,
the space needed and free.
"""
from __future__ import annotations

import errno
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

from sparse_sharing.errors import DiskFull, PluginError, RunDirError


TMP_SUFFIX = ".tmp"

# A file system that takes no more data: what it says, and what the user can do about it.
NO_SPACE = {
    errno.ENOSPC: ("no space left on {}", "Free space on it"),
    errno.EDQUOT: ("your disk quota is used up on {}", "Free space on it or raise your quota"),
    errno.EROFS: ("{} is read-only", "Make it writable"),
}


def atomic_write(path: Path, write: Callable[[BinaryIO], Any], size: int = 0) -> None:
    """Write through a temporary file in the same directory, then rename over the target.

    The file gets the mode a plain ``open`` would give (0644 under the usual umask 022), not
    ``mkstemp``'s 0600: run directories are shared. A kill between the two steps leaves a
    ``.<name>.*.tmp`` file, which ``remove_partial_writes`` deletes when the run resumes; a full
    disk leaves nothing (the temporary file is removed) and raises ``DiskFull``, which says how much
    was needed: ``size`` (the bytes ``write`` writes, as far as known), else what the file had.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    except OSError as error:
        raise write_error(path, error, needed=0) from error
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        written = _size(Path(tmp))
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) or no_space_cause(error) is not None:  # a full disk, a directory in the way
            raise write_error(path, error, needed=max(size, written, _size(path)),
                              kept="the file's previous version is intact" if path.is_file() else "") from error
        raise


def append(path: Path, data: bytes) -> None:
    """Add ``data`` (whole records: log lines, TensorBoard events) at the end of ``path`` in one
    write, or leave the file as it was: on a full disk the part that fitted is cut off again, so
    no record is ever half there. Opened for each call with ``O_APPEND``, so the mask search's
    worker processes can share the run's log. (Another process's line appended during a failing
    write is cut off with it: a full disk stops them all.)"""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as error:
        raise write_error(path, error, needed=len(data)) from error
    try:
        end = os.fstat(fd).st_size
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as error:
        try:
            os.ftruncate(fd, end)
        except OSError:
            pass  # a read-only file system: nothing was written
        raise write_error(path, error, needed=len(data), kept="its earlier records are intact") from error
    finally:
        os.close(fd)


def no_space_cause(error: BaseException) -> OSError | None:
    """The OSError of a file system that takes no more data behind ``error``: ``error`` itself, or
    the one a writer was handling when it failed in turn. torch's zip writer is such a writer: it
    reports a full disk as ``RuntimeError: ... unexpected pos``, raised while the OSError of the
    failed write is its context."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in NO_SPACE:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def disk_fault(error: BaseException) -> DiskFull | None:
    """A full disk met outside ``atomic_write`` and ``append`` (making a directory, a lock file) as
    the ``DiskFull`` they raise, naming the path the OSError names; None for any other error."""
    cause = no_space_cause(error)
    if cause is None:
        return None
    path = Path(os.fsdecode(cause.filename)) if cause.filename is not None else Path.cwd()
    return write_error(path, cause, needed=0)


def write_error(path: Path, error: BaseException, needed: int, kept: str = "") -> DiskFull | RunDirError:
    """``DiskFull`` where the file system takes no more data, else the ``RunDirError`` of a path
    that cannot be written (a directory in the way, no permission). ``needed``: bytes the write
    needs, as far as known (0: unknown); ``kept``: what of the file survives."""
    cause = no_space_cause(error)
    if cause is None:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return RunDirError(f"cannot write {path}: {reason}")
    where = _existing(path.parent)
    figures = ""
    if cause.errno != errno.EROFS:
        free = free_space(where)
        figures = (f": it needs about {human_size(needed)}, " if needed else ": ") + f"{human_size(free)} is free"
    state, remedy = NO_SPACE[cause.errno]
    return DiskFull(f"cannot write {path}: {state.format(describe_file_system(where))}{figures}. "
                    f"Nothing was half-written{'; ' + kept if kept else ''}. {remedy}.")


def describe_file_system(path: Path) -> str:
    """``the file system at <mount point> (<type>, <size>)``, as far as the system tells."""
    mount = path.resolve()
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    details = [kind for kind in [_mount_type(mount)] if kind]
    try:
        stat = os.statvfs(mount)
        details.append(human_size(stat.f_blocks * stat.f_frsize))
    except OSError:
        pass
    return f"the file system at {mount}" + (f" ({', '.join(details)})" if details else "")


def _mount_type(mount: Path) -> str:
    """The file system type of a mount point, from /proc/mounts (Linux; elsewhere unknown)."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    kinds = [fields[2] for fields in (line.split() for line in lines)
             if len(fields) > 2 and fields[1].replace("\\040", " ") == str(mount)]
    return kinds[-1] if kinds else ""


def free_space(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system of ``path``."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return 0
    return stat.f_bavail * stat.f_frsize


def human_size(size: int) -> str:
    """``705620`` → ``689.1 KiB``."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (a directory a full disk kept from being made)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


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
    text = (json.dumps(data, indent=2, sort_keys=False) + "\n").encode()
    atomic_write(path, lambda s: s.write(text), size=len(text))


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda s: torch.save(obj, s), size=tensor_bytes(obj))


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in ``obj`` (nested lists, tuples and dicts), each storage once:
    about what ``torch.save`` writes, known before it writes (for the size a full disk lacks)."""
    storages: dict[int, int] = {}
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return sum(storages.values())


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
