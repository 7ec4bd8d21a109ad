"""A sweep from start to finish: what to run, in which order, and the record of how each went.

Idempotent by construction: a run's state is read from disk (see `state`), finished runs are
never started, started ones are resumed with `ssl train --resume`, and a run that failed stays
failed (with its error) until the user asks for a retry. The runs may come from several sweep
files, with several output directories: they share one pool of workers, and a run that reuses
another's masks starts after it (see `dependencies`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from sparse_sharing.config.sweep import PlannedRun, same_place
from sparse_sharing.errors import RunDirError
from sparse_sharing.files import write_json
from sparse_sharing.locks import ExclusiveLock
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.sweep.cost import estimated_steps
from sparse_sharing.training.sweep.dependencies import dependencies
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
    """Runs the jobs, in their order, each once the jobs in its ``after`` have succeeded (a
    `JobQueue`), calling ``on_start``/``on_end`` around each and ``tick`` now and then."""

    def describe(self) -> str: ...

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None], on_end: Callable[[Job, int], None],
            tick: Callable[[], None]) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    threads: int = 1
    gpu_share: float = 0.0
    retry_failed: bool = False
    include_packages: tuple[str, ...] = ()


def statuses(runs: Sequence[PlannedRun], running: bool | None = None) -> list[RunStatus]:
    """Each run's state; ``running`` None: ask each output's lock whether a sweep is running it.

    A run that has not started, or not finished, because it waits for a run of ``runs``
    (`dependencies`) says so in its message, with the state of what it waits for.
    """
    held: dict[Path, bool] = {}

    def sweep_running(output: Path) -> bool:
        if running is not None:
            return running
        if output not in held:
            held[output] = sweep_is_running(SweepPaths(output))
        return held[output]

    found = [run_status(run, SweepPaths(run.output), sweep_running(run.output)) for run in runs]
    state_of = {id(run): status.state for run, status in zip(runs, found)}
    for status, needs in zip(found, dependencies(runs)):
        unfinished = [need for need in needs if state_of[id(need)] is not State.FINISHED]
        if unfinished and status.state in (State.PENDING, State.RESUMABLE):
            status.message = "waits for " + ", ".join(f"{need.run_dir} ({state_of[id(need)].value})"
                                                      for need in unfinished)
    return found


def plan_jobs(runs: Sequence[PlannedRun], options: RunOptions) -> list[tuple[PlannedRun, Job]]:
    """The runs to (re)start, longest chain first (`longest_chain_first`), each with the `ssl train`
    command that continues it and the jobs it waits for. A run that waits for a run this sweep
    will not train (failed and not retried, or trained by another process) is left out: it could
    not start."""
    found = statuses(runs, running=False)
    needs = dependencies(runs)
    todo = {id(run) for run, status in zip(runs, found)
            if status.state is not State.FINISHED and status.state is not State.RUNNING  # RUNNING: left to
            and (status.state is not State.FAILED or options.retry_failed)}  # the process that trains it
    state_of = {id(run): status.state for run, status in zip(runs, found)}
    while True:  # drop the runs whose dependencies can no longer finish here, until none is left
        blocked = {id(run) for run, need in zip(runs, needs) if id(run) in todo
                   and any(state_of[id(n)] is not State.FINISHED and id(n) not in todo for n in need)}
        if not blocked:
            break
        todo -= blocked
    planned, waits = [], []
    for run, need in zip(runs, needs):
        if id(run) not in todo:
            continue
        waits.append([n for n in need if id(n) in todo])
        paths, run_paths = SweepPaths(run.output), RunPaths(run.run_dir)
        if run_paths.config.is_file():
            mode: tuple[str, ...] = ("--resume",)
        elif run.run_dir.is_dir() and any(run.run_dir.iterdir()):
            mode = ("--force",)  # a start that stopped before config.json: nothing to resume
        else:
            mode = ()
        args = (str(paths.config(run.key)), "-s", str(run.run_dir), *mode,
                *(f"--include-package={p}" for p in options.include_packages))
        job = Job(str(run.run_dir), args, str(Path.cwd()), str(paths.log(run.key)), options.threads,
                  options.gpu_share, after=tuple(str(n.run_dir) for n in waits[-1]))
        planned.append((run, job))
    first = longest_chain_first([run for run, _ in planned], waits)
    return sorted(planned, key=lambda item: first[id(item[0])])  # stable: ties keep the sweep files' order


def longest_chain_first(runs: Sequence[PlannedRun], needs: Sequence[Sequence[PlannedRun]]) -> dict[int, int]:
    """A sort key (by ``id`` of each run) that starts the runs heading the longest chains first: a
    run's estimated steps plus those of the longest chain of runs that wait for it. Without
    dependencies that is largest first (a long run started last decides the wall time); with
    them, a search that others reuse starts before a larger run that nothing waits for."""
    waiting_for: dict[int, list[PlannedRun]] = {id(run): [] for run in runs}
    for run, need in zip(runs, needs):
        for source in need:
            waiting_for[id(source)].append(run)
    chains: dict[int, int] = {}

    def chain(run: PlannedRun) -> int:  # no circles: `dependencies` refuses them
        if id(run) not in chains:
            chains[id(run)] = estimated_steps(run.validated) + max(map(chain, waiting_for[id(run)]), default=0)
        return chains[id(run)]

    return {id(run): -chain(run) for run in runs}


def run_sweep(runs: Sequence[PlannedRun], executor: Executor, options: RunOptions,
              refresh: Callable[[list[RunStatus]], None]) -> list[RunStatus]:
    """Run what is left of the runs (of one sweep file or several); ``refresh`` is shown the
    states as they change.

    Returns the final states. Holds the lock of every output directory involved throughout, so
    two sweeps never train the same run at once.
    """
    locks = []
    try:
        for output in {same_place(run.output): run.output for run in runs}.values():  # one lock per directory
            paths = SweepPaths(output)
            paths.lock.parent.mkdir(parents=True, exist_ok=True)
            lock = ExclusiveLock(paths.lock)
            if not lock.acquire():
                raise RunDirError(f"another `ssl sweep` is running the runs in {output} (it holds {paths.lock}); "
                                  f"wait for it, or see where it stands with --status")
            locks.append(lock)
        return _run(runs, executor, options, refresh)
    finally:
        for lock in locks:
            lock.release()


def _run(runs: Sequence[PlannedRun], executor: Executor, options: RunOptions,
         refresh: Callable[[list[RunStatus]], None]) -> list[RunStatus]:
    planned = plan_jobs(runs, options)
    for run, _ in planned:
        write_json(SweepPaths(run.output).config(run.key), run.config)
    by_key = {job.key: run for run, job in planned}
    started: dict[str, float] = {}

    def record(run: PlannedRun, state: str, **details: Any) -> None:
        write_record(SweepPaths(run.output), run, state, **details)

    def on_start(job: Job) -> None:
        started[job.key] = time.time()
        record(by_key[job.key], "running", log=job.log)

    def on_end(job: Job, code: int) -> None:
        run = by_key[job.key]
        details: dict[str, Any] = {"log": job.log, "returncode": code,
                                   "seconds": round(time.time() - started.pop(job.key), 1)}
        if code == 0:
            record(run, "finished", **details)
        else:
            error = error_of(Path(job.log), code) or f"ssl train exited with code {code}"
            record(run, "failed", error=error, **details)

    def tick() -> None:
        refresh(statuses(runs, running=True))

    try:
        tick()
        executor.run([job for _, job in planned], on_start, on_end, tick)
    finally:
        for key in started:  # stopped by an interrupt: resumable, not failed
            run = by_key[key]
            record(run, "interrupted", log=str(SweepPaths(run.output).log(run.key)))
    final = statuses(runs, running=False)
    refresh(final)
    return final
