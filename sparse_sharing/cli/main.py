"""The `ssl` command."""
from __future__ import annotations

import click

from sparse_sharing.cli.train import train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sparse-sharing")
def cli() -> None:
    """Multi-task sequence labelling with swappable sharing strategies."""


cli.add_command(train_command)


def main() -> None:
    cli()
