"""Options shared by several commands, and the error boundary every command runs inside."""
from __future__ import annotations

import functools
import logging
import signal
import sys
from typing import Any, Callable

import click
import torch

from sparse_sharing.errors import UserError
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.trainer import seed_everything


def include_package_option(command: Callable) -> Callable:
    return click.option(
        "--include-package", "include_packages", multiple=True, metavar="PKG",
        help="Import PKG first so the components it registers can be named in configs (repeatable).",
    )(command)


def device_option(command: Callable) -> Callable:
    return click.option(
        "--device", default=None, metavar="DEVICE",
        help="auto, cpu, cuda or cuda:N; overrides the config's `device` (default auto: CUDA when available).",
    )(command)


def config_options(command: Callable) -> Callable:
    command = click.option("-o", "--overrides", multiple=True, metavar="OVERRIDE",
                           help="A JSON object or key.path=value (repeatable); only existing keys can be set.")(command)
    command = click.option("--ext-var", "ext_vars", multiple=True, metavar="NAME=VALUE",
                           help="Value for std.extVar(NAME) in the config (repeatable).")(command)
    return include_package_option(command)


def user_errors_exit_2(command: Callable) -> Callable:
    """A user's mistake is one line on stderr and exit code 2; anything else is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted. Continue this run with --resume.", err=True)
            sys.exit(130)

    return wrapper


def load_components(include_packages: tuple[str, ...]) -> None:
    import_plugins(include_packages)


def set_threads_and_seeds(config: Any) -> None:
    """The process-wide state a command takes from its config; library code never sets it."""
    torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)


def setup_console_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in root.handlers):
        root.addHandler(handler)


def stop_on_sigterm() -> None:
    """SIGTERM (a scheduler's or `kill`'s) ends a run like Ctrl-C: a clear message and exit 130.

    Background jobs of a non-interactive shell ignore SIGINT, so SIGTERM is how they are stopped.
    Either way the run resumes from its last epoch checkpoint.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
