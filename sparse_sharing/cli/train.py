from __future__ import annotations

from pathlib import Path

import click

from sparse_sharing.api import train
from sparse_sharing.cli.common import config_options, device_option, error_boundary, setup_console_logging, \
    stop_on_sigterm, stop_with_sweep
from sparse_sharing.cli.faults import as_fault, in_run
from sparse_sharing.paths import RunPaths


@click.command("train")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("-s", "--serialization-dir", "run_dir", required=True, type=click.Path(path_type=Path),
              help="Run directory for the config, vocabulary, checkpoints, metrics, log and TensorBoard events.")
@config_options
@device_option
@click.option("--resume", is_flag=True, help="Continue the interrupted run in the run directory.")
@click.option("--force", is_flag=True, help="Delete the run directory's contents and start again.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Mask search: tasks searched in parallel processes (overrides masks.jobs).")
@error_boundary
def train_command(config_path: Path, run_dir: Path, overrides: tuple[str, ...], ext_vars: tuple[str, ...],
                  jpaths: tuple[Path, ...], include_packages: tuple[str, ...], device: str | None, resume: bool,
                  force: bool, jobs: int | None) -> None:
    """Train the experiment in CONFIG (Jsonnet or JSON)."""
    setup_console_logging()
    stop_on_sigterm()
    stop_with_sweep()
    try:  # the Python API's train: the CLI adds the console, signals and the fault's next step
        metrics = train(config_path, run_dir, overrides=overrides, ext_vars=ext_vars, jpaths=jpaths, device=device,
                        jobs=jobs, resume=resume, force=force, include_packages=include_packages)
    except Exception as error:
        fault = as_fault(error)
        if fault is None:
            raise
        raise in_run(fault, RunPaths(run_dir)) from error
    for task, best in metrics["tasks"].items():
        test = f", test {best['test']:.2f}" if best.get("test") is not None else ""
        click.echo(f"{task}: dev-best epoch {best['epoch']}: dev {best['dev']:.2f}{test}")
    click.echo(f"Run directory: {run_dir}")
