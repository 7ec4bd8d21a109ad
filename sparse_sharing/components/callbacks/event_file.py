"""A TensorBoard event file written in the training process, record by whole record.

Not ``torch.utils.tensorboard.SummaryWriter``: its events are written by a background thread,
which on a full disk prints a traceback of its own, raises the error later from whichever call
comes next, and can leave half a record at the end of the file. Here records wait in memory
until ``flush`` (each evaluation, each train-loss point, the end) and go to the file through
``files.append``: whole, or not at all with a ``DiskFull`` raised in the loop like any other
write's. The file is the one TensorBoard reads (``events.out.tfevents.*``, TFRecord framing), and
scalars are encoded as ``SummaryWriter.add_scalar`` encodes them.
"""
from __future__ import annotations

import io
import itertools
import os
import socket
import time
from pathlib import Path

from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter

from sparse_sharing.files import append

_files_opened = itertools.count()  # two writers of one process in one second get distinct files


class EventFile:
    def __init__(self, directory: Path, purge_step: int | None = None) -> None:
        """A new event file in ``directory``. ``purge_step`` (a resumed run's step) makes
        TensorBoard drop the points of earlier files from that step on: the interrupted run's
        points after its last checkpoint, which the resumed run draws again."""
        self.path = Path(directory) / (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                                       f"{os.getpid()}.{next(_files_opened)}")
        self._pending = io.BytesIO()
        self._records = RecordWriter(self._pending)
        self._add(Event(wall_time=time.time(), file_version="brain.Event:2"))
        if purge_step is not None:
            self._add(Event(wall_time=time.time(), step=purge_step,
                            session_log=SessionLog(status=SessionLog.START)))
        self.flush()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._add(Event(wall_time=time.time(), step=step,
                        summary=Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])))

    def _add(self, event: Event) -> None:
        self._records.write(event.SerializeToString())

    def flush(self) -> None:
        """Write the pending records to the file (one write), or raise ``DiskFull`` and keep them."""
        data = self._pending.getvalue()
        if data:
            append(self.path, data)
            self._pending.seek(0)
            self._pending.truncate()

    def close(self) -> None:
        self.flush()
