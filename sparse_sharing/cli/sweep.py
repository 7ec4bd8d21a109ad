"""`ssl sweep`: every run of a sweep file, in parallel, resumable, then the results table."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Sequence

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from sparse_sharing.analysis.compare import compare, to_markdown
from sparse_sharing.cli.common import error_boundary, include_package_option, load_components, stop_on_sigterm
from sparse_sharing.cli.faults import with_lines
from sparse_sharing.config.sweep import PlannedRun, load_sweeps
from sparse_sharing.errors import MachineFault, UserError
from sparse_sharing.training.sweep.dependencies import check_sources_exist, dependencies
from sparse_sharing.training.sweep.local import LocalExecutor, cpu_slots, gpu_slots
from sparse_sharing.training.sweep.paths import SweepPaths
from sparse_sharing.training.sweep.ray_executor import RayExecutor
from sparse_sharing.training.sweep.runner import RunOptions, run_sweep, statuses
from sparse_sharing.training.sweep.state import RunStatus, State


def _epoch(status: RunStatus) -> str:
    return "" if status.epoch is None else f"{status.epoch}/{status.num_epochs}"


def _best_dev(status: RunStatus) -> str:
    return ", ".join(f"{task} {score:.2f}" for task, score in status.best_dev.items())


def _line(label: str, status: RunStatus) -> str:
    parts = [status.state.value]
    if status.epoch is not None:
        parts.append(f"epoch {_epoch(status)}")
    if status.best_dev:
        parts.append(f"best dev {_best_dev(status)}")
    if status.message:
        parts.append(status.message)
    return f"{label}: " + "; ".join(parts)


def state_table(labels: Sequence[str], runs: Sequence[PlannedRun], states: Sequence[RunStatus]) -> Table:
    table = Table("run", "seed", "state", "epoch", "best dev", "note", title_justify="left")
    for label, run, status in zip(labels, runs, states):
        table.add_row(escape(label.removesuffix(f"/seed-{run.seed}")), str(run.seed), status.state.value,
                      _epoch(status), escape(_best_dev(status)), escape(status.message))
    return table


class Progress:
    """On a terminal, one live line a run; otherwise a log line whenever a run's state or epoch moves."""

    def __init__(self, labels: Sequence[str], runs: Sequence[PlannedRun]) -> None:
        self.labels = labels
        self.runs = runs
        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=2) if self.console.is_terminal else None
        self.last: dict[str, tuple] = {}

    def __enter__(self) -> "Progress":
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def refresh(self, states: list[RunStatus]) -> None:
        if self.live is not None:
            self.live.update(state_table(self.labels, self.runs, states))
            return
        for label, status in zip(self.labels, states):
            seen = (status.state, status.epoch, status.message if status.state is not State.RUNNING else "")
            if self.last.get(label) != seen:
                self.last[label] = seen
                click.echo(f"{time.strftime('%H:%M:%S')} {_line(label, status)}", err=True)


def _executor(name: str, address: str | None, workers: int | None, threads: int, runs_per_gpu: int | None):
    if address is not None and name != "ray":
        raise UserError("--address names a Ray cluster: use it with --executor ray")
    if name == "ray":
        local_cpus = (workers or os.cpu_count() or 1) * threads
        return RayExecutor(address, local_cpus, None if runs_per_gpu else 0)
    if runs_per_gpu is None:
        return LocalExecutor(cpu_slots(workers or os.cpu_count() or 1))
    import torch

    num_gpus = torch.cuda.device_count()
    if num_gpus == 0:
        raise UserError("--runs-per-gpu: no CUDA GPU is visible on this machine")
    slots = gpu_slots(num_gpus, runs_per_gpu)
    return LocalExecutor(slots[:workers] if workers else slots)


@click.command("sweep")
@click.argument("sweep_paths", metavar="SWEEP_FILE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--ext-var", "ext_vars", multiple=True, metavar="NAME=VALUE",
              help="Value for std.extVar(NAME) in the sweep file (repeatable).")
@click.option("--output", type=click.Path(path_type=Path),
              help="Directory of the runs; replaces the file's `output` (one sweep file only).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Runs at a time. Default: the number of cores; with --runs-per-gpu, K per GPU.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads of each run (its num_threads).")
@click.option("--runs-per-gpu", type=click.IntRange(min=1), metavar="K",
              help="Train on GPUs, K runs sharing each card (each run's `device` is set to cuda).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a pool of worker processes here. ray: each run a Ray task "
                   "(pip install 'sparse-sharing[ray]').")
@click.option("--address", metavar="ADDRESS",
              help="With --executor ray: the cluster to join (e.g. ray://head:10001 or auto); "
                   "default: start a Ray instance here of --workers × --threads CPUs.")
@click.option("--retry-failed", is_flag=True, help="Run the runs whose last attempt failed again.")
@click.option("--status", "status_only", is_flag=True, help="Print each run's state and exit; runs nothing.")
@click.option("--baseline", metavar="NAME", help="Passed to the final `ssl compare` table: differences from row NAME.")
@include_package_option
@error_boundary
def sweep_command(sweep_paths: tuple[Path, ...], ext_vars: tuple[str, ...], output: Path | None,
                  workers: int | None, threads: int, runs_per_gpu: int | None, executor: str, address: str | None,
                  retry_failed: bool, status_only: bool, baseline: str | None,
                  include_packages: tuple[str, ...]) -> None:
    """Run every (run, seed) of SWEEP_FILE, largest first, each an ordinary run directory
    <output>/<name>/seed-<seed>; then print the `ssl compare` table of the sweep (one row per run name).

    Several sweep files share one pool of workers (a table each at the end). A run whose masks
    come `from_run` a run of the sweeps starts once that run has finished (which therefore
    counts as large as itself plus the runs waiting for it).

    Calling it again continues the sweep: finished runs are skipped, interrupted ones resumed
    (`ssl train --resume`), failed ones reported with their error and left alone unless
    --retry-failed. Each run's output is in <output>/.sweep/<name>/seed-<seed>.log. Exit code 1 if
    any run has failed.
    """
    load_components(include_packages)
    sweeps = load_sweeps(sweep_paths, ext_vars, output, threads, "cuda" if runs_per_gpu else None)
    runs = [run for sweep in sweeps for run in sweep.runs]
    dependencies(runs)  # masks taken from_run in a circle: an error before anything is written
    labels = [run.key if len(sweeps) == 1 else str(run.run_dir) for run in runs]
    if status_only:
        Console(soft_wrap=False).print(state_table(labels, runs, statuses(runs)))
        return
    check_sources_exist(runs)
    runner = _executor(executor, address, workers, threads, runs_per_gpu)
    stop_on_sigterm()
    click.echo(f"{len(runs)} run(s) of {', '.join(map(str, sweep_paths))} in "
               f"{', '.join(map(str, dict.fromkeys(run.output for run in runs)))}, on {runner.describe()}", err=True)
    options = RunOptions(threads, 1 / runs_per_gpu if runs_per_gpu else 0.0, retry_failed, include_packages)
    try:
        with Progress(labels, runs) as progress:
            final = run_sweep(runs, runner, options, progress.refresh)
    except KeyboardInterrupt:
        click.echo("Interrupted. Run the same command again to continue the sweep.", err=True)
        sys.exit(130)
    except MachineFault as fault:  # the sweep's own record of a run could not be written
        raise with_lines(fault, "Then run the same command again: finished runs are skipped, the others "
                                "resume.") from fault
    finished = {id(run) for run, status in zip(runs, final) if status.state is State.FINISHED}
    for sweep in sweeps:
        if any(id(run) in finished for run in sweep.runs):  # the others are listed as skipped
            if len(sweeps) > 1:
                click.echo(f"\n{sweep.path}:\n")
            names = [run.name for run in sweep.runs]
            click.echo(to_markdown(compare([run.run_dir for run in sweep.runs], names,
                                           baseline if baseline in names or len(sweeps) == 1 else None)), nl=False)
    final_states = list(zip(labels, final))
    elsewhere = [label for label, status in final_states if status.state is State.RUNNING]
    if elsewhere:
        click.echo(f"\nleft to the process that is training them (a run of a killed sweep, or an `ssl train` "
                   f"elsewhere): {', '.join(elsewhere)}; run the sweep again once they have ended", err=True)
    waiting = [(label, status) for label, status in final_states if status.state in (State.PENDING, State.RESUMABLE)]
    if waiting:  # whatever was not trained now could not start: it waits for a run that did not finish
        click.echo(f"\n{len(waiting)} run(s) not started: each reuses the masks of a run that has not finished",
                   err=True)
        for label, status in waiting:
            click.echo(f"  {label}: {status.message}", err=True)
    failed = [(run, label, status) for run, (label, status) in zip(runs, final_states) if status.state is State.FAILED]
    if failed:
        click.echo(f"\n{len(failed)} run(s) failed (run again with --retry-failed once fixed):")
        for run, label, status in failed:
            click.echo(f"  {label}: {status.message} (log: {SweepPaths(run.output).log(run.key)})")
        sys.exit(1)
