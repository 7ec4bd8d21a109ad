"""An exception raised inside a plugin's code, said as one line: which component, which method, where.

A plugin's bug is its author's to fix, not the framework's, so the CLI reports it like a user
error (exit 2, the traceback only with ``--debug``). Plugin code is code of a package outside
``sparse_sharing`` that registered a component, or a built-in base class's method running for a
plugin's component (``Pruner.prune`` around a plugin's ``scores``); the component is found from
the ``self`` of the outermost such frame, or from a function factory's own frame. The message
names the line that raised.
"""
from __future__ import annotations

import traceback
from types import FrameType

from sparse_sharing.registry.kinds import ALL_KINDS
from sparse_sharing.registry.registry import Entry, Registry


def describe_plugin_failure(error: BaseException) -> str | None:
    """The message for ``error`` if plugin code is on its traceback, else None (a bug of the framework's)."""
    packages = plugin_packages()
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    found = [(frame, _component(frame)) for frame in frames]
    plugin_frames = [(frame, component) for frame, component in found if _is_plugin(frame, component, packages)]
    if not plugin_frames:
        return None
    raised = frames[-1]
    where = f"{raised.f_code.co_filename}:{raised.f_lineno}"
    owned = [(frame, component) for frame, component in plugin_frames if component is not None]
    if owned:
        frame, (registry, entry) = owned[0]
        method = "its factory" if frame.f_code is getattr(entry.factory, "__code__", None) \
            else f"`{frame.f_code.co_name}`"
        subject = f"{registry.kind} '{entry.name}' ({_qualified(entry)})"
    else:
        frame = plugin_frames[0][0]
        subject, method = f"plugin module {frame.f_globals['__name__']}", f"`{frame.f_code.co_name}`"
    return (f"plugin error: {subject} raised {type(error).__name__} in {method} at {where}: {error}. "
            f"Fix the plugin; `ssl --debug ...` shows the traceback.")


def plugin_packages() -> set[str]:
    """Top-level packages, other than sparse_sharing, whose modules registered a component."""
    modules = {e.factory.__module__ for r in ALL_KINDS.values() for e in r.entries()}
    return {m.split(".")[0] for m in modules} - {"sparse_sharing"}


def _is_plugin(frame: FrameType, component: tuple[Registry, Entry] | None, packages: set[str]) -> bool:
    """Code of a plugin's module, or a built-in base class's method running for a plugin's component."""
    if frame.f_globals.get("__name__", "").split(".")[0] in packages:
        return True
    return component is not None and _qualified(component[1]).split(".")[0] in packages


def _qualified(entry: Entry) -> str:
    return f"{entry.factory.__module__}.{entry.factory.__qualname__}"


def _component(frame: FrameType) -> tuple[Registry, Entry] | None:
    owner = frame.f_locals.get("self")
    for registry in ALL_KINDS.values():
        if owner is not None:
            entry = registry.owner(owner)
            if entry is not None:
                return registry, entry
        for entry in registry.entries():
            if frame.f_code is getattr(entry.factory, "__code__", None):
                return registry, entry
    return None
