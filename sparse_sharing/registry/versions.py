"""The plugin API's version, what a plugin declares against it, and the warning of an old form.

The plugin API is the set of contracts (``registry.contracts``), the runtime keywords each kind's
factory is called with and the base classes plugins subclass. Its version rises with any change
a plugin could notice; every change is listed, with its version, in docs/plugins.md ("Changes")
and CHANGELOG.md. A method whose contract changed keeps working in its old form for at least one
release, adapted where the component is built, with one ``PluginDeprecationWarning`` naming the
new form (``registry.signatures.OLD_FORMS``).

A plugin package may declare the version it was written for, as a module attribute of the
package that is imported (``SPARSE_SHARING_PLUGIN_API = 3``); one written for a newer API than
this sparse-sharing provides, or for one too old to adapt, is refused when it is loaded.
"""
from __future__ import annotations

import functools
import warnings
from types import ModuleType
from typing import Any, Callable, TypeVar

from sparse_sharing.errors import PluginError

F = TypeVar("F", bound=Callable[..., Any])

PLUGIN_API_VERSION = 3
OLDEST_PLUGIN_API_VERSION = 1  # the oldest API whose forms are still adapted
DECLARATION = "SPARSE_SHARING_PLUGIN_API"


class PluginDeprecationWarning(DeprecationWarning):
    """A plugin uses a form of the plugin API that still works but will be refused in a later release.

    Its own class, so that the ``ssl`` command can show these (Python hides DeprecationWarning
    outside ``__main__`` by default) without showing every library's.
    """


def check_declared_api(module: ModuleType, loaded_as: str) -> None:
    """Refuse a plugin whose declared plugin API this sparse-sharing cannot serve."""
    declared = getattr(module, DECLARATION, None)
    if declared is None:
        return
    if not isinstance(declared, int) or isinstance(declared, bool):
        raise PluginError(f"{loaded_as}: {module.__name__}.{DECLARATION} = {declared!r}; it must be a whole number "
                          f"(this sparse-sharing provides plugin API {PLUGIN_API_VERSION})")
    if declared > PLUGIN_API_VERSION:
        raise PluginError(f"{loaded_as}: {module.__name__} is written for plugin API {declared}, but this "
                          f"sparse-sharing provides plugin API {PLUGIN_API_VERSION}: upgrade sparse-sharing "
                          f"(pip install -U sparse-sharing)")
    if declared < OLDEST_PLUGIN_API_VERSION:
        raise PluginError(f"{loaded_as}: {module.__name__} is written for plugin API {declared}, older than the "
                          f"oldest this sparse-sharing adapts ({OLDEST_PLUGIN_API_VERSION}); update the plugin "
                          f"(docs/plugins.md, 'Changes')")


def renamed_argument(old: str, new: str) -> Callable[[F], F]:
    """A parameter renamed from ``old`` to ``new`` (a plugin calling a built-in by keyword): a call
    that still passes ``old=`` is served, with one ``PluginDeprecationWarning`` naming the new name.
    ``inspect.signature`` shows the new signature (the contract checks read it)."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def renamed(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                warnings.warn(f"{function.__qualname__}: the argument `{old}` is now `{new}`; the old name "
                              f"will be removed in a later release", PluginDeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)
        return renamed  # type: ignore[return-value]
    return decorate
