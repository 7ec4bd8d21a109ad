"""Where each run of a sweep stands, read from its run directory and the sweep's record of it.

The run directory is the truth about training (``config.json`` once a run can be resumed,
``metrics.json`` with ``finished`` once it is done); the sweep's record adds what only the
sweep knows: that a run is running now, or that its last attempt failed and with what error.
So the states survive a killed sweep, and ``--status`` needs no process to ask.
"""
from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparse_sharing.config.sweep import PlannedRun
from sparse_sharing.errors import DiskFull, OutOfMemory
from sparse_sharing.files import write_json
from sparse_sharing.locks import ExclusiveLock
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.sweep.paths import SweepPaths


class State(str, enum.Enum):
    PENDING = "pending"  # nothing of it exists yet
    RUNNING = "running"  # a live `ssl sweep`, or a trainer outside it, is training it
    RESUMABLE = "resumable"  # started, not finished: the next sweep resumes it
    FAILED = "failed"  # its last attempt failed; retried only with --retry-failed
    FINISHED = "finished"  # trained to the end with exactly this config


@dataclass
class RunStatus:
    state: State
    epoch: int | None = None
    num_epochs: int | None = None
    best_dev: dict[str, float] = field(default_factory=dict)
    message: str = ""  # the error of a failed run, or the last thing a running one logged


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent, or caught half-written by a reader that does not lock


def run_status(run: PlannedRun, paths: SweepPaths, sweep_running: bool) -> RunStatus:
    """The state of ``run``; ``sweep_running`` says whether an `ssl sweep` holds this output's lock."""
    run_paths = RunPaths(run.run_dir)
    record = read_json(paths.record(run.key)) or {}
    metrics = read_json(run_paths.metrics) or {}
    saved_config = read_json(run_paths.config)
    status = RunStatus(State.PENDING, metrics.get("epochs_completed"), run.config["trainer"]["num_epochs"],
                       {t: best["dev"] for t, best in metrics.get("tasks", {}).items()})
    if metrics.get("finished") and saved_config == run.config:
        status.state = State.FINISHED
    elif record.get("state") == "failed":
        status.state, status.message = State.FAILED, record.get("error", "")
    elif record.get("state") == "running" and sweep_running:
        status.state, status.message = State.RUNNING, last_log_line(run_paths.log)
    elif saved_config is not None and ExclusiveLock(run_paths.root).is_held_elsewhere():
        # a run of a killed sweep that trains on, or an `ssl train --resume` in another terminal
        status.state, status.message = State.RUNNING, last_log_line(run_paths.log)
    elif saved_config is not None:
        status.state = State.RESUMABLE
    return status


def last_log_line(log: Path, limit: int = 4096) -> str:
    """The message of the run log's last line (after its time stamp, level and logger)."""
    try:
        with log.open("rb") as stream:
            stream.seek(0, 2)
            stream.seek(max(0, stream.tell() - limit))
            lines = stream.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return re.sub(r"^\S+ \S+ \S+ \S+: ", "", lines[-1]) if lines else ""


# A fault of the machine, by the exit status `ssl train` gives it: the reason the record keeps when
# the run's own message did not reach its log (a full disk there too).
FAULT_STATUSES = {DiskFull.exit_status: "a write found the disk full", OutOfMemory.exit_status: "out of memory"}


def error_of(log: Path, returncode: int) -> str:
    """What went wrong in a failed attempt's output: the CLI's `Error:` message (of a fault of the
    machine its first line, the reason: the lines below it tell how to continue the run by hand,
    which ``--retry-failed`` does), else the last line of the traceback (the exception), else what
    the exit status says."""
    fault = FAULT_STATUSES.get(returncode)
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    attempt = lines[max((i for i, line in enumerate(lines) if line.startswith("$ ")), default=0):]
    errors = [i for i, line in enumerate(attempt) if line.startswith("Error: ")]
    if errors:
        message = attempt[errors[-1]:errors[-1] + 1] if fault else attempt[errors[-1]:]
        return " ".join(line.strip() for line in message).removeprefix("Error: ")
    if fault:
        return f"{fault} (exit status {returncode}); see the run's log"
    return attempt[-1].strip() if len(attempt) > 1 else ""


def write_record(paths: SweepPaths, run: PlannedRun, state: str, **details: Any) -> None:
    write_json(paths.record(run.key), {"state": state, "run_dir": str(run.run_dir), **details})


def sweep_is_running(paths: SweepPaths) -> bool:
    """Whether another process holds the output directory's sweep lock."""
    return ExclusiveLock(paths.lock).is_held_elsewhere()
