"""The `ssl` command."""
from __future__ import annotations

import click

from sparse_sharing.cli.compare import compare_command
from sparse_sharing.cli.evaluate import evaluate_command, predict_command
from sparse_sharing.cli.inspect import components_command, schema_command, validate_command
from sparse_sharing.cli.masks import masks_command
from sparse_sharing.cli.sweep import sweep_command
from sparse_sharing.cli.train import train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparse-sharing")
def cli() -> None:
    """Multi-task sequence labelling with swappable sharing strategies."""


for command in (train_command, validate_command, evaluate_command, predict_command, components_command,
                schema_command, masks_command, compare_command, sweep_command):
    cli.add_command(command)


def main() -> None:
    cli()
