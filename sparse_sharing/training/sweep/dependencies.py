"""Which runs of a sweep wait for which: a run that takes its masks `from_run` a run of the sweep
(`PlannedRun.reads`) starts only once that run has finished, in the same sweep or across sweep
files run together.

It waits for the whole run, not only for its mask search: "finished" is the one state of a run
that the sweep reads from disk alone (``metrics.json``), so a killed and restarted sweep, or
``--status`` in another terminal, sees the same order; a search a run has just ended can still
be redone by a ``--force`` restart of it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sparse_sharing.config.sweep import PlannedRun, same_place
from sparse_sharing.errors import ConfigError


def dependencies(runs: Sequence[PlannedRun]) -> list[tuple[PlannedRun, ...]]:
    """For each run (in order), the runs of ``runs`` it reads. A run that reads itself, or runs that
    read each other in a circle, are a ConfigError: none of them could ever start."""
    by_place = {same_place(run.run_dir): run for run in runs}
    needs = [tuple(by_place[place] for place in dict.fromkeys(same_place(p) for p in run.reads) if place in by_place)
             for run in runs]
    index = {id(run): i for i, run in enumerate(runs)}
    done: set[int] = set()

    def visit(i: int, path: list[int]) -> None:
        if i in path:
            circle = [runs[j].run_dir for j in path[path.index(i):]] + [runs[i].run_dir]
            raise ConfigError("masks taken `from_run` in a circle, so none of these runs can start: "
                              + " reads ".join(str(p) for p in circle))
        if i not in done:
            for need in needs[i]:
                visit(index[id(need)], [*path, i])
            done.add(i)

    for i in range(len(runs)):
        visit(i, [])
    return needs


def check_sources_exist(runs: Sequence[PlannedRun]) -> None:
    """A run that takes its masks from a directory that is neither there nor a run of the sweep
    would fail when its turn comes, maybe hours in: a ConfigError now, before anything starts."""
    planned = {same_place(run.run_dir) for run in runs}
    for run in runs:
        for path in run.reads:
            if same_place(path) not in planned and not path.is_dir():
                raise ConfigError(f"run {run.key} ({run.run_dir}) takes its masks from_run {path}, which does not "
                                  f"exist (relative to {Path.cwd()}, where ssl sweep runs) and is not a run of "
                                  f"this sweep")
