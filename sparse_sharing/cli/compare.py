"""`ssl compare`: the paper's results table from run directories, without re-running anything."""
from __future__ import annotations

import json
from pathlib import Path

import click

from sparse_sharing.analysis.compare import compare, skipped_lines, to_csv, to_json, to_latex, to_markdown
from sparse_sharing.cli.common import error_boundary


@click.command("compare")
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--baseline", metavar="NAME",
              help="Also show each row's difference from the row named NAME (e.g. single), and the same "
                   "difference paired by seed: mean ± sample std of the differences between runs of one seed.")
@click.option("--name", "names", multiple=True, metavar="NAME",
              help="Name the row of each RUN_DIR, once per RUN_DIR in order (repeatable); runs given the same "
                   "name form one row. Replaces the automatic naming and grouping.")
@click.option("--format", "output_format", type=click.Choice(["markdown", "csv", "json", "latex"]),
              default="markdown", show_default=True,
              help="How to print the table. csv and latex (a booktabs tabular, each column's best in bold) keep "
                   "standard output to the table and list skipped runs on standard error; json lists them under "
                   "\"skipped\".")
@click.option("--epochs", type=click.IntRange(min=1), metavar="K",
              help="Compare at one budget: each run as it stood after K epochs (the dev-best of its first K "
                   "epochs' evaluations, from metrics.json's history). Runs still training count once they "
                   "have done K epochs.")
@error_boundary
def compare_command(run_dirs: tuple[Path, ...], baseline: str | None, names: tuple[str, ...],
                    output_format: str, epochs: int | None) -> None:
    """Compare finished runs: per task, the test score at its dev-best epoch; the mean over tasks; the
    parameter count in the paper's convention (BiLSTM + char conv) and in total.

    One row per experiment, named by its sharing strategy: runs whose configs differ only in seed,
    train_tasks, num_threads, device, trainer.num_epochs, trainer.compile, trainer.eval_batch_size or
    masks.jobs are one row (where two experiments share a strategy, each name also gets its first
    RUN_DIR's name, unless that name is the strategy's own). Each task shows the mean
    ± sample std over the runs that trained it, so single-task runs (one task each) make one
    "single" row. Parameters: runs that trained the same tasks are averaged, runs that trained
    different tasks add up. The mean over tasks is blank for a row that lacks any task of the table.

    Missing, failed and unfinished runs are listed after the table with the reason. Exit code 2 if
    no run is usable or --baseline names no row.
    """
    comparison = compare(run_dirs, names or None, baseline, epochs)
    if output_format == "json":
        click.echo(json.dumps(to_json(comparison), indent=2))
    elif output_format in ("csv", "latex"):
        click.echo((to_csv if output_format == "csv" else to_latex)(comparison), nl=False)
        for line in skipped_lines(comparison):
            click.echo(line, err=True)
    else:
        click.echo(to_markdown(comparison), nl=False)
