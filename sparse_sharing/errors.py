"""Errors the CLI turns into one message and an exit status of their own, without a traceback.

A user's error (exit 2) is something in the input to fix; a fault of the machine (a full disk,
exit 3; exhausted memory, exit 4) is neither the input's fault nor a bug, and the run keeps
everything it had finished. Everything else is a bug in the project and keeps its traceback.
"""
from __future__ import annotations

USER_ERROR_STATUS = 2


class UserError(Exception):
    """A problem with the user's input: a config, a data file, a run directory or a flag."""


class ConfigError(UserError):
    """The experiment config is wrong: bad key, bad type, bad override, Jsonnet error."""


class DataError(UserError):
    """A data file is missing or malformed. The message names the file and line."""


class RunDirError(UserError):
    """The run directory is in a state that forbids the requested action."""


class PluginError(UserError):
    """A component does not fit its kind: a taken name, a config without its tag, a missing method."""


class MachineFault(Exception):
    """The machine ran out of something the run needs. Not a ``UserError``: code that cleans up
    after a refused input (removing a run directory it just made) must not run on a fault, which
    strikes a run halfway and leaves it resumable.

    ``resume_args`` are what ``--resume`` needs beside it to continue the run once the cause is
    gone (``()``: nothing more), or None where resuming the same run cannot help. Everything
    lives in ``args``, so a fault raised in a mask-search worker process pickles to the parent.
    """

    exit_status = 1

    def __init__(self, message: str, resume_args: tuple[str, ...] | None = ()) -> None:
        super().__init__(message, resume_args)

    def __str__(self) -> str:
        return self.args[0]

    @property
    def resume_args(self) -> tuple[str, ...] | None:
        return self.args[1]


class DiskFull(MachineFault):
    """A write found no space on its file system (or a full quota, or a read-only file system).
    Every writer of the package goes through ``sparse_sharing.files``, which raises it with the
    file, the file system and the space needed and free, after removing what it half wrote."""

    exit_status = 3


class OutOfMemory(MachineFault):
    """An allocation failed on the run's device (the CPU allocator, or CUDA's): the message says
    in which stage, how much was asked for, and which config keys change it."""

    exit_status = 4
