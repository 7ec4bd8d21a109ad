"""Worker processes for a run's per-task work (a mask search with ``masks.jobs`` > 1): the pool,
the progress bars and log lines they send to the parent, and their end when the parent ends.

Why apart from the runner: the runner says what each stage does; this module only says how a
stage's work runs in other processes, so neither has to be read to understand the other. The
work itself is a module-level function of the caller (spawned workers import it by name).
"""
from __future__ import annotations

import os
import types
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sparse_sharing.components.callbacks.progress import WorkerBars, report_to_parent
from sparse_sharing.logs import show_records_of
from sparse_sharing.processes import when_parent_ends

Job = TypeVar("Job")
Result = TypeVar("Result")


def run_in_workers(work: Callable[[Job], Result], jobs: Sequence[Job], processes: int,
                   loggers: Iterable[str]) -> list[Result]:
    """``work(job)`` for every job in ``processes`` spawned workers, results in the jobs' order.

    The records of ``loggers`` (INFO and up; every logger's warnings) that the workers log are shown
    here, above one progress bar per worker. A multiprocessing pool, not an executor: on an
    interrupt its workers are terminated at once (finished work is on disk; ``--resume`` redoes
    only what was running).
    """
    context = get_context("spawn")
    reports = context.Queue()
    bars = WorkerBars(reports)
    pool = context.Pool(processes, initializer=worker_start,
                        initargs=(os.getpid(), context.Value("i", 0), reports, tuple(loggers)))
    try:
        results = pool.map(work, jobs)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        bars.close()
    return results


def worker_start(parent: int, workers_started: Any, reports: Any, loggers: tuple[str, ...]) -> None:
    """A worker ends when its parent does, even by ``kill -9``: without this it would work on,
    writing into the run directory, until its job ends. It sends its progress bars and the
    records of ``loggers`` to the parent, which shows them on the terminal, each worker's bar on its
    own line."""
    with workers_started.get_lock():
        line = workers_started.value
        workers_started.value += 1
    show_records_of(loggers)
    report_to_parent(reports, line, loggers=loggers)
    when_parent_ends(parent, lambda: os._exit(1))


def component_loggers(*components: Any) -> tuple[str, ...]:
    """The loggers a component's code logs to, by the convention ``logging.getLogger(__name__)``:
    the modules of its class and of the classes it derives from in its own package or in
    sparse-sharing (a plugin source deriving from ``CandidateSource`` logs its rounds through
    ``candidates``'s logger). A class, a built component or a factory function (its own module)
    may be given."""
    names: dict[str, None] = {}
    for component in components:
        if isinstance(component, types.FunctionType):
            names[component.__module__] = None
            continue
        cls = component if isinstance(component, type) else type(component)
        packages = {cls.__module__.split(".")[0], __name__.split(".")[0]}
        for base in cls.__mro__:
            if base.__module__.split(".")[0] in packages:
                names[base.__module__] = None
    return tuple(names)

