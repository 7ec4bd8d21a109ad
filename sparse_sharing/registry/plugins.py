"""Loading plugins: a user's packages and installed entry points.

The built-in components register where they are defined, in ``sparse_sharing.components``,
which the experiment schema imports; this layer sits below them and never imports them.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Iterable

from sparse_sharing.errors import ConfigError
from sparse_sharing.registry.registry import ENTRY_POINT_GROUP


def import_plugins(include_packages: Iterable[str] = ()) -> None:
    """Import every ``sparse_sharing.plugins`` entry point and each named package.

    A package registers its components by being imported, so importing is all there is
    to loading a plugin. The current directory is importable, as with ``python -m``.
    """
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry_point.load()
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for package in include_packages:
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as error:
            if error.name and package.startswith(error.name):
                raise ConfigError(
                    f"--include-package {package}: no module named '{error.name}' "
                    f"(is it installed, or in the current directory?)"
                ) from None
            raise
