"""`ssl masks`: what a masked run's subnetworks look like, without re-running anything."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sparse_sharing.analysis.figures import plot_masks, require_matplotlib
from sparse_sharing.analysis.masks import RunMasks, overlap_matrix, read_run_masks, summary
from sparse_sharing.cli.common import error_boundary, include_package_option, load_components
from sparse_sharing.errors import UserError


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def _optional(value: Any, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _print_tables(run: RunMasks, figures: dict[str, Any]) -> None:
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped or captured: never cut tensor names to fit an 80-column guess
        console.width = max(console.width, 160)
    masks, tasks = run.masks, run.masks.tasks

    def say(text: str, style: str | None = None) -> None:
        # Prose is not markup (a path may hold brackets) and is not cut into lines: the terminal wraps it.
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    say(f"Masks of {run.run_dir} ({len(tasks)} tasks, {masks.total_count():,} masked weights)", style="bold")

    table = Table("task", "round", "dev score", "kept", "kept %", "search rounds", title="Chosen masks",
                  title_justify="left")
    for task, info in figures["tasks"].items():
        table.add_row(escape(task), _optional(info["round"], "d"), _optional(info["dev_score"], ".2f"),
                      f"{info['kept']:,} / {info['total']:,}", _percent(info["kept_fraction"]),
                      str(len(info["search_rounds"])))
    console.print(table)

    headers = [escape(task) for task in tasks]
    table = Table("tensor", "shape", *headers, "union", title="Kept per tensor", title_justify="left")
    union = figures["union_count_per_tensor"]
    for name, shape in masks.shapes.items():
        per_task = [_percent(figures["tasks"][t]["tensors"][name]["kept_fraction"]) for t in tasks]
        table.add_row(escape(name), "×".join(map(str, shape)), *per_task, _percent(union[name] / math.prod(shape)))
    console.print(table)

    table = Table("", *headers, title="Pairwise overlap ratio", title_justify="left")
    for task, row in zip(tasks, overlap_matrix(masks)):
        table.add_row(escape(task), *(f"{value:.4f}" for value in row))
    console.print(table)
    masks_figures = figures["figures"]
    say(f"{len(tasks)}-way overlap ratio OR({', '.join(tasks)}) = |∩M|₀ / |∪M|₀ = "
        f"{figures['intersection_count']:,} / {masks_figures['union_count']:,} = {masks_figures['overlap_ratio']:.4f}")

    parameters = figures["parameters"]
    if parameters["counted_from"] == "model":
        say(f"Parameters, paper's convention (BiLSTM with biases + char conv, masked weights as kept by the masks): "
            f"{parameters['paper']:,}")
        say(f"  the same without masks: {parameters['paper_unmasked']:,}")
        say(f"  total (every parameter of the model): {parameters['total']:,}")
    else:
        say(f"Parameters: counted from the masks alone, because {parameters['note']}. Masked weights kept by some "
            f"task: {masks_figures['union_count']:,} of {masks_figures['masked_total']:,} (biases and the total "
            f"are not counted)")


@click.command("masks")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.png",
              help="Also draw the overlap heatmap and each task's dev score over the search rounds "
                   "(needs matplotlib: pip install 'sparse-sharing[plot]').")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the figures.")
@include_package_option
@error_boundary
def masks_command(run_dir: Path, plot_path: Path | None, output_format: str,
                  include_packages: tuple[str, ...]) -> None:
    """Show the per-task masks of a sparse (or single_subnet) run: kept fractions, overlaps, parameter counts."""
    if plot_path is not None:
        if plot_path.suffix.lower() != ".png":
            raise UserError(f"--plot writes a PNG: name the file *.png, not {plot_path}")
        require_matplotlib()
    load_components(include_packages)
    run = read_run_masks(run_dir)
    figures = summary(run)
    if output_format == "json":
        click.echo(json.dumps(figures, indent=2))
    else:
        _print_tables(run, figures)
    if plot_path is not None:
        plot_masks(run, plot_path)
        click.echo(f"wrote {plot_path}", err=True)
