"""Loading plugins: a user's packages and installed entry points.

The built-in components register where they are defined, in ``sparse_sharing.components``,
which the experiment schema imports; this layer sits below them and never imports them.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import logging
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Iterable

from sparse_sharing.errors import ConfigError, UserError
from sparse_sharing.registry.kinds import ALL_KINDS
from sparse_sharing.registry.registry import ENTRY_POINT_GROUP
from sparse_sharing.registry.versions import check_declared_api

logger = logging.getLogger(__name__)


def import_plugins(include_packages: Iterable[str] = ()) -> None:
    """Import every ``sparse_sharing.plugins`` entry point and each named package.

    A package registers its components by being imported, so importing is all there is
    to loading a plugin. A package not installed is looked for in the current directory,
    which is on ``sys.path`` only while that one named package is imported: a run directory
    or a working directory may hold files from anyone, and a module there named like a
    dependency that is imported later (``seqeval``, ``plistlib``) must never run.
    """
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except UserError:  # a component that does not fit its kind: the registry's message says which
            raise
        except Exception as error:
            raise ConfigError(f"the installed plugin '{entry_point.name}' ({entry_point.value}) failed to import: "
                              f"{_describe(error)}; fix or uninstall it") from None
        module = sys.modules.get(entry_point.module)
        if module is not None:
            check_declared_api(module, f"the installed plugin '{entry_point.name}' ({entry_point.value})")
    for package in include_packages:
        before = _registered()
        module = _import_named(package)
        check_declared_api(module, f"--include-package {package}")
        if _registered() == before and not _registers(package):  # said, not refused: importing it may be all it is for
            logger.warning("--include-package %s imported %s but it registered no component. %s", package,
                           _origin(module), _hint(module))


def _registered() -> dict[str, list[str]]:
    return {kind: registry.names() for kind, registry in ALL_KINDS.items()}


def _registers(package: str) -> bool:
    """Whether a component of ``package`` is registered (it may have been imported before, by an entry point)."""
    return any(entry.factory.__module__ == package or entry.factory.__module__.startswith(package + ".")
               for registry in ALL_KINDS.values() for entry in registry.entries())


def _origin(module: ModuleType) -> str:
    if getattr(module, "__file__", None):
        return f"'{module.__name__}' from {module.__file__}"
    folders = ", ".join(str(p) for p in getattr(module, "__path__", []))
    return f"'{module.__name__}' as a namespace package (a folder without __init__.py: {folders})"


def _hint(module: ModuleType) -> str:
    if not getattr(module, "__file__", None):
        return ("Such a folder shadows a package of the same name, or lacks the __init__.py that would register "
                "its components: run from elsewhere, rename the folder, install the package, or add the file.")
    return ("Its import must run the @REGISTRY.register(...) decorators: import the modules that define your "
            "components in its __init__.py (docs/plugins.md).")


def _import_named(package: str) -> ModuleType:
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)  # after site-packages: an installed module of the same name wins
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as error:
        if error.name and (package == error.name or package.startswith(error.name + ".")):
            raise ConfigError(
                f"--include-package {package}: no module named '{error.name}' "
                f"(is it installed, or in the current directory?)"
            ) from None
        raise ConfigError(f"--include-package {package}: it imports '{error.name}', which is not installed; "
                          f"install it (pip install ...) or remove the import") from None
    except UserError:
        raise
    except Exception as error:  # a plugin's own bug: name the file and line, not a traceback
        raise ConfigError(f"--include-package {package} failed to import: {_describe(error)}; "
                          f"fix the module (run `python -c 'import {package}'` to see the traceback)") from None
    finally:
        if added:
            sys.path.remove(cwd)


def _describe(error: BaseException) -> str:
    """`file:line: Type: message` of where the error was raised (for a syntax error, where it is)."""
    if isinstance(error, SyntaxError):
        return f"{error.filename}:{error.lineno}: SyntaxError: {error.msg}"
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return f"{where}{type(error).__name__}: {error}"
