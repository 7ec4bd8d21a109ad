"""One run of a sweep as a process: the `ssl train` command, its environment and its log.

Every run is its own `ssl train` process, whichever executor starts it: a run is then exactly
what a user would have typed, it resumes through the trainer's own ``--resume``, a crash takes
down one run and not the sweep, and stopping a run is stopping a process.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from sparse_sharing.files import append
from sparse_sharing.processes import PARENT_ENV

# How long a stopped run may take to exit (it only has to close files: its last epoch is on disk).
STOP_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Job:
    key: str  # the run directory: unique across the sweep files of one `ssl sweep`
    train_args: tuple[str, ...]  # the arguments of `ssl train`
    cwd: str  # relative paths in the config are relative to this
    log: str  # the run's output, appended to across attempts
    threads: int  # torch threads of the run, and the CPUs it declares
    gpu_share: float = 0.0  # the share of one GPU it declares (Ray); 0: none
    env: dict[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()  # keys of jobs that must end with exit status 0 before this one starts

    def command(self) -> list[str]:
        """With the Python of the process that runs it: on a cluster node, the node's own."""
        return [sys.executable, "-m", "sparse_sharing", "train", *self.train_args]


class JobQueue:
    """The jobs not started yet, in the order they should start; a job is ready once every job in
    its ``after`` has ended with exit status 0, so one that waits for a failed job never is. Both
    executors take jobs from it, so the order is the same on a local pool and on Ray."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.waiting = list(jobs)
        self.succeeded: set[str] = set()

    def take(self) -> Job | None:
        """The first ready job, removed from the queue; None if none is ready."""
        for i, job in enumerate(self.waiting):
            if self.succeeded.issuperset(job.after):
                return self.waiting.pop(i)
        return None

    def ended(self, job: Job, returncode: int) -> None:
        if returncode == 0:
            self.succeeded.add(job.key)


def start(job: Job, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the run in its own session, so a terminal's Ctrl-C reaches the sweep alone, which
    then stops its runs deliberately (`stop`); told its parent's pid, so that it also stops if
    the sweep is killed outright (``sparse_sharing.processes``)."""
    threads = str(job.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1",
           PARENT_ENV: str(os.getpid()), **job.env, **(extra_env or {})}
    append(Path(job.log), f"$ {shlex.join(job.command())}\n".encode())
    with open(job.log, "ab") as log:
        return subprocess.Popen(job.command(), cwd=job.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM (`ssl train` then exits like on Ctrl-C), and SIGKILL for any that outlive the grace."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_to_end(job: Job, extra_env: dict[str, str] | None = None) -> int:
    """Run the job and return its exit code; if interrupted (Ctrl-C, or Ray cancelling the task),
    stop the run first."""
    process = start(job, extra_env)
    try:
        return process.wait()
    except BaseException:
        stop([process])
        raise
