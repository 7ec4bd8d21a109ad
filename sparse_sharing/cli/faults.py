"""Faults of the machine (a full disk, exhausted memory) as the CLI says them: any error that is
one, and what a fault leaves of a run and the command that continues it (said by `ssl train`,
which alone knows the run directory and its own command line, after the fault's own message)."""
from __future__ import annotations

import shlex
import sys
import warnings

import torch

from sparse_sharing.errors import MachineFault
from sparse_sharing.files import disk_fault
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.memory import memory_fault


def as_fault(error: BaseException) -> MachineFault | None:
    """``error`` as the fault of the machine it is, also where no writer or stage has said so yet
    (a lock file on a full disk, an allocation in pruning), or None for any other error."""
    if isinstance(error, MachineFault):
        return error
    return disk_fault(error) or memory_fault(error)


def in_run(fault: MachineFault, paths: RunPaths) -> MachineFault:
    """``fault`` with what of the run in ``paths`` is intact, and how to go on."""
    lines = [_what_is_intact(paths)]
    if fault.resume_args is not None and paths.root.is_dir():
        if paths.config.is_file():
            lines.append(f"Then continue with: {command_again('--resume', *fault.resume_args)}")
        else:  # it stopped before config.json: nothing to resume (as the sweep too decides)
            lines.append(f"Then start it again: {command_again('--force', *fault.resume_args)}")
    return with_lines(fault, *lines)


def with_lines(fault: MachineFault, *lines: str) -> MachineFault:
    """``fault`` (of the same class) with ``lines`` added below its message, indented under it."""
    return type(fault)("\n  ".join([str(fault), *lines]), fault.resume_args)


def _what_is_intact(paths: RunPaths) -> str:
    if not paths.root.is_dir():
        return f"No run directory was created at {paths.root}."
    if paths.last_checkpoint.is_file():
        epoch = _epoch_of(paths)
        after = f" (after epoch {epoch})" if epoch is not None else ""
        return f"The last complete checkpoint, {paths.last_checkpoint}{after}, is intact."
    if paths.config.is_file():
        return f"No epoch of joint training had ended; the stages the run finished in {paths.root} are intact."
    return f"The run had not started in {paths.root} (it has no {paths.config.name})."


def _epoch_of(paths: RunPaths) -> int | None:
    """The epoch ``last.pt`` was written after; memory-mapped, so reading it costs next to nothing,
    even where memory has just run out."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(paths.last_checkpoint, map_location="cpu", weights_only=True, mmap=True)
        return int(state["epoch"])
    except Exception:  # an unreadable file: --resume will say what is wrong with it
        return None


def command_again(mode: str, *extra: str) -> str:
    """This process's command line as the user typed it, with ``mode`` (``--resume`` or
    ``--force``) in place of either, and ``extra`` arguments at the end (later ``-o`` win)."""
    args = [arg for arg in sys.argv[1:] if arg not in ("--resume", "--force")]
    return shlex.join(["ssl", *args, mode, *extra])
