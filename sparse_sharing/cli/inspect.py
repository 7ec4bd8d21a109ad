"""`ssl components`, `ssl schema` and `ssl validate`: look at what a config can say, without training."""
from __future__ import annotations

import json
import time
import typing
from pathlib import Path

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.table import Table

from sparse_sharing.cli.common import (
    config_options,
    device_option,
    error_boundary,
    include_package_option,
    load_components,
    setup_console_logging,
)
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.config.schema import build_experiment_schema
from sparse_sharing.config.sweep import SweepConfig
from sparse_sharing.devices import describe
from sparse_sharing.errors import UserError
from sparse_sharing.random_state import set_threads_and_seeds
from sparse_sharing.registry import ALL_KINDS, Nested, did_you_mean
from sparse_sharing.training.experiment import build_experiment, check_experiment
from sparse_sharing.training.model import parameter_counts
from sparse_sharing.training.rehearsal import SENTENCES, rehearse


def _type_name(field: FieldInfo) -> str:
    """A field naming another component reads as its kind (``pruner block``), with ``| None`` when optional."""
    nested = next((m for m in field.metadata if isinstance(m, Nested)), None)
    annotation = field.annotation
    if nested is not None:
        optional = type(None) in typing.get_args(annotation)
        return f"{nested.registry.kind} block" + (" | None" if optional else "")
    text = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    return text or str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return json.dumps(value, default=str)


@click.command("components")
@click.argument("kind", required=False)
@include_package_option
@error_boundary
def components_command(kind: str | None, include_packages: tuple[str, ...]) -> None:
    """List component kinds, or the components of KIND with their config fields."""
    load_components(include_packages)
    console = Console(soft_wrap=False)
    if kind is None:
        table = Table("kind", "registered", "what it is for", title="Component kinds")
        for registry in ALL_KINDS.values():
            table.add_row(registry.kind, ", ".join(registry.names()), registry.description)
        console.print(table)
        return
    if kind not in ALL_KINDS:
        raise UserError(f"no component kind '{kind}'. Kinds: {', '.join(ALL_KINDS)}.{did_you_mean(kind, list(ALL_KINDS))}")
    for entry in ALL_KINDS[kind].entries():
        where = f"{entry.factory.__module__}.{entry.factory.__qualname__}"
        fields = {n: f for n, f in entry.config.model_fields.items() if n != ALL_KINDS[kind].tag}
        if not fields:
            console.print(f"[bold]{kind} '{entry.name}'[/bold]: no options ({where})\n")
            continue
        table = Table("field", "type", "default", "description", title=f"{kind} '{entry.name}' ({where})",
                      title_justify="left")
        for name, field in fields.items():
            table.add_row(name, _type_name(field), _default(field), field.description or "")
        console.print(table)


@click.command("schema")
@click.option("--sweep", is_flag=True, help="The schema of a sweep file (`ssl sweep`) instead.")
@include_package_option
@error_boundary
def schema_command(sweep: bool, include_packages: tuple[str, ...]) -> None:
    """Print the JSON schema of the experiment config (with your plugins' components)."""
    load_components(include_packages)
    schema = SweepConfig if sweep else build_experiment_schema()
    click.echo(json.dumps(schema.model_json_schema(), indent=2))


@click.command("validate")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@config_options
@device_option
@error_boundary
def validate_command(config_path: Path, overrides: tuple[str, ...], ext_vars: tuple[str, ...],
                     jpaths: tuple[Path, ...], include_packages: tuple[str, ...], device: str | None) -> None:
    """Check CONFIG as `ssl train` does before it starts (validate it, read the data, build the
    vocabulary, the model and every component), then rehearse: one short epoch of every component
    on a few sentences of each task, in a temporary directory that is removed. Nothing is written."""
    started = time.monotonic()
    setup_console_logging()
    load_components(include_packages)
    _, config = load_experiment(config_path, ext_vars, overrides, jpaths, device)
    set_threads_and_seeds(config.num_threads, config.seed)
    experiment = build_experiment(config)
    check_experiment(experiment)
    counts = parameter_counts(experiment.model)  # before the rehearsal trains the model
    rehearsal_started = time.monotonic()
    rehearse(experiment)
    rehearsal_seconds = time.monotonic() - rehearsal_started
    click.echo(f"{config_path}: OK")
    click.echo(f"  strategy {config.model.sharing.type}; tasks {', '.join(experiment.tasks)}")
    for task in experiment.tasks:
        sizes = ", ".join(f"{split} {len(s)}" for split, s in experiment.data[task].sentences.items())
        click.echo(f"  {task}: {sizes} sentences; {len(experiment.vocab.labels[task])} labels "
                   f"({experiment.data[task].tag_scheme})")
    click.echo(f"  device: {describe(experiment.device)}")
    click.echo(f"  vocabulary: {len(experiment.vocab.words)} words, {len(experiment.vocab.chars)} characters")
    click.echo(f"  parameters: {counts['paper']:,} in the paper's convention (BiLSTM + char conv), "
               f"{counts['total']:,} in total")
    click.echo(f"  every component built and run on {SENTENCES} sentences a task and split "
               f"({rehearsal_seconds:.1f} s of {time.monotonic() - started:.1f} s)")
