"""The `ssl` command."""
from __future__ import annotations

import os
import sys
import warnings

import click

from sparse_sharing import __version__

from sparse_sharing.cli.compare import compare_command
from sparse_sharing.cli.corpus import corpus_command
from sparse_sharing.cli.evaluate import evaluate_command, predict_command
from sparse_sharing.cli.export import export_command
from sparse_sharing.cli.inspect import components_command, schema_command, validate_command
from sparse_sharing.cli.masks import masks_command
from sparse_sharing.cli.serve import serve_command
from sparse_sharing.cli.sweep import sweep_command
from sparse_sharing.cli.train import train_command
from sparse_sharing.registry import PLUGIN_API_VERSION, PluginDeprecationWarning


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, message=f"%(prog)s %(version)s (plugin API {PLUGIN_API_VERSION})")
@click.option("--debug", is_flag=True, help="Show the traceback of an error as well as its message.")
def cli(debug: bool) -> None:
    """Multi-task sequence labelling with swappable sharing strategies."""


for command in (train_command, validate_command, evaluate_command, predict_command, components_command,
                schema_command, masks_command, compare_command, sweep_command, corpus_command, serve_command,
                export_command):
    cli.add_command(command)


def keep_working_directory_out_of_imports() -> None:
    """Nothing is imported from the directory `ssl` runs in.

    ``python -m sparse_sharing`` puts the current directory first on ``sys.path``; a run
    directory shared between people could then plant ``seqeval.py`` (imported lazily, at the
    first span score) and have it run. Child processes (mask-search workers) get the same
    path, and PYTHONSAFEPATH keeps their interpreter from adding the directory back.
    """
    here = {"", os.getcwd()}
    sys.path[:] = [entry for entry in sys.path if entry not in here]
    os.environ["PYTHONSAFEPATH"] = "1"


def main() -> None:
    keep_working_directory_out_of_imports()
    warnings.simplefilter("default", PluginDeprecationWarning)  # Python hides DeprecationWarning outside __main__
    cli()
