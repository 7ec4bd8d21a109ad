"""A sweep from start to finish: what to run, in which order, and the record of how each went.

Idempotent by construction: a run's state is read from disk (see `state`), finished runs are
never started, started ones are resumed with `ssl train --resume`, and a run that failed stays
failed (with its error) until the user asks for a retry.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from sparse_sharing.config.sweep import PlannedRun
from sparse_sharing.errors import RunDirError
from sparse_sharing.files import write_json
from sparse_sharing.locks import ExclusiveLock
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.sweep.cost import estimated_steps
from sparse_sharing.training.sweep.job import Job
from sparse_sharing.training.sweep.paths import SweepPaths
from sparse_sharing.training.sweep.state import (
    RunStatus,
    State,
    error_of,
    run_status,
    sweep_is_running,
    write_record,
)


class Executor(Protocol):
    def describe(self) -> str: ...

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None], on_end: Callable[[Job, int], None],
            tick: Callable[[], None]) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    threads: int = 1
    gpu_share: float = 0.0
    retry_failed: bool = False
    include_packages: tuple[str, ...] = ()


def statuses(runs: Sequence[PlannedRun], paths: SweepPaths, running: bool | None = None) -> list[RunStatus]:
    """Each run's state; ``running`` None: ask the lock whether a sweep is running them."""
    running = sweep_is_running(paths) if running is None else running
    return [run_status(run, paths, running) for run in runs]


def plan_jobs(runs: Sequence[PlannedRun], paths: SweepPaths, options: RunOptions) -> list[tuple[PlannedRun, Job]]:
    """The runs to (re)start, largest first, each with the `ssl train` command that continues it."""
    todo = []
    for run, status in zip(runs, statuses(runs, paths, running=False)):
        if status.state is State.FINISHED or (status.state is State.FAILED and not options.retry_failed):
            continue
        if status.state is State.RUNNING:  # another process trains it (see ``run_status``): left to it
            continue
        run_paths = RunPaths(run.run_dir)
        if run_paths.config.is_file():
            mode: tuple[str, ...] = ("--resume",)
        elif run.run_dir.is_dir() and any(run.run_dir.iterdir()):
            mode = ("--force",)  # a start that stopped before config.json: nothing to resume
        else:
            mode = ()
        args = (str(paths.config(run.key)), "-s", str(run.run_dir), *mode,
                *(f"--include-package={p}" for p in options.include_packages))
        job = Job(run.key, args, str(Path.cwd()), str(paths.log(run.key)), options.threads, options.gpu_share)
        todo.append((estimated_steps(run.validated), run, job))
    todo.sort(key=lambda item: -item[0])  # stable: equal sizes keep the sweep file's order
    return [(run, job) for _, run, job in todo]


def run_sweep(runs: Sequence[PlannedRun], output: Path, executor: Executor, options: RunOptions,
              refresh: Callable[[list[RunStatus]], None]) -> list[RunStatus]:
    """Run what is left of the sweep; ``refresh`` is shown the states as they change.

    Returns the final states. Holds the output directory's lock throughout, so two sweeps never
    train the same run at once.
    """
    paths = SweepPaths(output)
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    lock = ExclusiveLock(paths.lock)
    if not lock.acquire():
        raise RunDirError(f"another `ssl sweep` is running the runs in {output} (it holds {paths.lock}); "
                          f"wait for it, or see where it stands with --status")
    try:
        planned = plan_jobs(runs, paths, options)
        for run, _ in planned:
            write_json(paths.config(run.key), run.config)
        by_key = {run.key: run for run, _ in planned}
        started: dict[str, float] = {}

        def on_start(job: Job) -> None:
            started[job.key] = time.time()
            write_record(paths, by_key[job.key], "running", log=job.log)

        def on_end(job: Job, code: int) -> None:
            run = by_key[job.key]
            details: dict[str, Any] = {"log": job.log, "returncode": code,
                                       "seconds": round(time.time() - started.pop(job.key), 1)}
            if code == 0:
                write_record(paths, run, "finished", **details)
            else:
                error = error_of(Path(job.log), code) or f"ssl train exited with code {code}"
                write_record(paths, run, "failed", error=error, **details)

        def tick() -> None:
            refresh(statuses(runs, paths, running=True))

        try:
            tick()
            executor.run([job for _, job in planned], on_start, on_end, tick)
        finally:
            for key in started:  # stopped by an interrupt: resumable, not failed
                write_record(paths, by_key[key], "interrupted", log=str(paths.log(key)))
        final = statuses(runs, paths, running=False)
        refresh(final)
        return final
    finally:
        lock.release()
