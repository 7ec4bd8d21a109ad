"""Options shared by several commands, and the error boundary every command runs inside."""
from __future__ import annotations

import functools
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from sparse_sharing.cli.faults import as_fault
from sparse_sharing.components.callbacks.progress import add_console_handler
from sparse_sharing.errors import USER_ERROR_STATUS, UserError
from sparse_sharing.processes import parent_from_environment, when_parent_ends
from sparse_sharing.registry import import_plugins
from sparse_sharing.registry.failures import describe_plugin_failure


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


def jpath_option(command: Callable) -> Callable:
    return click.option(
        "-J", "--jpath", "jpaths", multiple=True, type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
        help="Also search DIR for Jsonnet imports (repeatable; a later DIR wins). The bundled library "
             "(base_network.libsonnet, embedded.libsonnet, ...) is always on the path.",
    )(command)


def config_options(command: Callable) -> Callable:
    command = jpath_option(command)
    command = click.option("-o", "--overrides", multiple=True, metavar="OVERRIDE",
                           help="A JSON object or key.path=value (repeatable): a key the config has or the schema "
                           "accepts there; any other is an error.")(command)
    command = click.option("--ext-var", "ext_vars", multiple=True, metavar="NAME=VALUE",
                           help="Value for std.extVar(NAME) in the config (repeatable).")(command)
    return include_package_option(command)


def debug_requested() -> bool:
    """Whether ``ssl --debug`` was given (outside a click context, e.g. in a test, it was not)."""
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("debug"))


def error_boundary(command: Callable) -> Callable:
    """What every command runs inside: a user's mistake, or an exception raised inside a plugin's
    code, is one message on stderr and exit status 2; a fault of the machine (``MachineFault``: a
    full disk, 3; exhausted memory, 4) one message and its status; no traceback unless ``ssl
    --debug`` asks for it. Anything else is a bug and keeps its traceback. A failed allocation
    that no stage has described yet is a fault too, in plugin code as anywhere."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            _exit_with(error, USER_ERROR_STATUS)
        except KeyboardInterrupt:
            click.echo("Interrupted. Continue this run with --resume.", err=True)
            sys.exit(130)
        except Exception as error:
            fault = as_fault(error)
            if fault is not None:
                _exit_with(fault, fault.exit_status)
            message = describe_plugin_failure(error)  # a plugin's bug is its author's, reported like a user error
            if message is None:
                raise
            _exit_with(message, USER_ERROR_STATUS)

    return wrapper


def _exit_with(error: BaseException | str, status: int) -> NoReturn:
    try:
        if debug_requested():
            traceback.print_exc()
        click.echo(f"Error: {error}", err=True)
    except OSError:  # stderr is a file on the disk that is full (a sweep's run log): the status says it
        pass
    sys.exit(status)


def load_components(include_packages: tuple[str, ...]) -> None:
    import_plugins(include_packages)


def setup_console_logging() -> None:
    add_console_handler()


def stop_on_sigterm() -> None:
    """SIGTERM (a scheduler's or `kill`'s) ends a run like Ctrl-C: a clear message and exit 130.

    Background jobs of a non-interactive shell ignore SIGINT, so SIGTERM is how they are stopped.
    Either way the run resumes from its last epoch checkpoint.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def stop_with_sweep() -> None:
    """A run started by `ssl sweep` stops as on SIGTERM when the sweep is gone, even by ``kill -9``
    (call after ``stop_on_sigterm``); a run started otherwise is unaffected."""
    parent = parent_from_environment()
    if parent is not None:
        when_parent_ends(parent, lambda: os.kill(os.getpid(), signal.SIGTERM))
