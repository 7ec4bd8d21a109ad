"""A machine that runs out of disk space or memory on purpose, for ``test_machine_faults``.

Loaded as a plugin (``--include-package faulty_machine``, with this directory on PYTHONPATH), so
it acts in `ssl train`, in a sweep's runs and in mask-search workers alike. It reads
``SSL_TEST_FAULTS``, a JSON list of faults; each acts only in a process whose command line
contains its ``when`` (default: every process), and counts in that process alone:

- ``{"write": GLOB, "at": N}``: the N-th file named like GLOB opened for writing (a temporary
  file of ``atomic_write`` counts by the name of its target) takes 100 bytes, or half of one
  ``os.write``, then refuses the rest with ENOSPC, as a file system that has just filled up does.
  Patched where the bytes leave Python (``os.open``, ``os.fdopen``, ``os.write``), so torch's zip
  writer, the log and TensorBoard meet it as they would meet a real full disk.
- ``{"alloc": "build"}``: building the model fails as the CPU allocator fails.
- ``{"alloc": "step", "at": N}``: the N-th training step's loss fails so.
- ``{"alloc": "evaluate", "at": N, "above": K}``: from the N-th decoded batch on, every batch of
  more than K sentences fails so (smaller evaluation batches get through).
"""
from __future__ import annotations

import errno
import fnmatch
import json
import os
import re
import sys
from typing import Any

from sparse_sharing.training.model import MultiTaskTagger

ALLOCATOR_FAILED = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                    "you tried to allocate 160000000000 bytes. Error code 12 (Cannot allocate memory)")
ROOM = 100  # bytes a failing atomic write gets onto the disk before it is full
_TEMPORARY = re.compile(r"\.(.+)\.\w+\.tmp")  # atomic_write's .<name>.<random>.tmp


def _no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullFile:
    """A file opened by ``os.fdopen`` on a disk that fills up after ``ROOM`` more bytes."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.room = ROOM

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self.stream.write(data[:self.room])
            self.stream.flush()
            self.room = 0
            raise _no_space()
        self.room -= len(data)
        return self.stream.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def __enter__(self) -> "_FullFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def fail_writes(glob: str, at: int) -> None:
    real_open, real_fdopen, real_write, real_close = os.open, os.fdopen, os.write, os.close
    opened = 0
    failing: set[int] = set()

    def target_name(path: Any) -> str:
        name = os.path.basename(os.fspath(path))
        temporary = _TEMPORARY.fullmatch(name)
        return temporary[1] if temporary else name

    def open_(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        nonlocal opened
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        failing.discard(fd)  # a number that a file closed by a stream had
        if flags & (os.O_WRONLY | os.O_RDWR) and fnmatch.fnmatch(target_name(path), glob):
            opened += 1
            if opened == at:
                failing.add(fd)
        return fd

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        stream = real_fdopen(fd, *args, **kwargs)
        return _FullFile(stream) if fd in failing else stream

    def write(fd: int, data: Any) -> int:
        if fd in failing:
            real_write(fd, bytes(data)[:len(data) // 2])
            raise _no_space()
        return real_write(fd, data)

    def close(fd: int) -> None:
        failing.discard(fd)
        real_close(fd)

    os.open, os.fdopen, os.write, os.close = open_, fdopen, write, close


def fail_allocations(stage: str, at: int, above: int) -> None:
    calls = 0

    def counted(original: Any, fails: Any) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if fails(*args):
                raise RuntimeError(ALLOCATOR_FAILED)
            return original(self, *args, **kwargs)
        return method

    if stage == "build":
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(ALLOCATOR_FAILED)
        MultiTaskTagger.__init__ = refuse
    elif stage == "step":
        MultiTaskTagger.loss = counted(MultiTaskTagger.loss, lambda batch, task, *rest: calls == at)
    elif stage == "evaluate":
        MultiTaskTagger.decode = counted(MultiTaskTagger.decode,
                                         lambda batch, task, *rest: calls >= at and len(batch.lengths) > above)
    else:
        raise ValueError(f"no allocation stage {stage!r}")


for fault in json.loads(os.environ.get("SSL_TEST_FAULTS", "[]")):
    if fault.get("when", "") not in " ".join(sys.argv):
        continue
    if "write" in fault:
        fail_writes(fault["write"], fault.get("at", 1))
    else:
        fail_allocations(fault["alloc"], fault.get("at", 1), fault.get("above", 0))
