"""Command-line ``-o`` overrides applied to an evaluated config before validation.

Two spellings are accepted because each is convenient for something different:
``trainer.num_epochs=3`` for one value typed by hand, and a JSON object
``'{"trainer": {"num_epochs": 3}}'`` for several values pasted from a script.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

from sparse_sharing.errors import ConfigError
from sparse_sharing.registry.registry import did_you_mean

KeyPath = tuple[str, ...]
Override = tuple[KeyPath, Any]
# The keys the schema accepts in the object at a path of a config, defaults included; None where
# that is not known (the config does not validate yet, or the path is not an object of the schema).
SchemaKeys = Callable[[dict[str, Any], KeyPath], "Sequence[str] | None"]


def parse_overrides(items: Sequence[str]) -> list[Override]:
    """Parse ``-o`` values into (path, value) pairs, in the order they were given.

    A JSON object is flattened to its leaves so that ``{"trainer": {"num_epochs": 3}}``
    changes only ``trainer.num_epochs`` and keeps the rest of ``trainer``: merging key by
    key is what people expect from a partial object. In the dotted form the value is read
    as JSON when it parses (``3``, ``true``, ``{"type": "hard"}``) and as a plain string
    otherwise, so ``-o data.train=conll/train.txt`` needs no quoting.
    """
    overrides: list[Override] = []
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                value = json.loads(item)
            except json.JSONDecodeError as error:
                raise ConfigError(f"-o {item}: not valid JSON ({error})") from None
            overrides.extend(_leaves((), value))
            continue
        dotted, sep, text = item.partition("=")
        path = tuple(dotted.split("."))
        if not sep or not all(path):
            raise ConfigError(f"-o {item}: expected KEY.PATH=VALUE or a JSON object")
        overrides.append((path, _parse_value(text)))
    return overrides


def apply_overrides(config: dict[str, Any], overrides: Sequence[Override],
                    schema_keys: SchemaKeys | None = None) -> dict[str, Any]:
    """Return a copy of ``config`` with each override set, later ones winning.

    An override changes a key the config has, or adds one the schema accepts at that place and
    the config leaves at its default (``-o trainer.compile=true`` on a config without
    ``compile``): ``schema_keys(config so far, path)`` says which keys those are. Any other key
    is an error that names the closest accepted key, never silently added: a misspelt key
    (``trainer.num_epoch``) would otherwise be ignored or refused far from the command line. An
    object the config leaves out (``trainer.grad_clipping``) is set whole,
    ``-o 'trainer.grad_clipping={"max": 1}'``, and can then be refined key by key.
    """
    result = copy.deepcopy(config)
    for path, value in overrides:
        _set(result, path, value, schema_keys)
    return result


def _leaves(prefix: KeyPath, value: Any) -> list[Override]:
    # An empty object is a value in its own right (it clears a subtree), not a branch.
    if not isinstance(value, dict) or (prefix and not value):
        return [(prefix, value)]
    leaves: list[Override] = []
    for key, child in value.items():
        leaves.extend(_leaves((*prefix, key), child))
    return leaves


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _set(config: dict[str, Any], path: KeyPath, value: Any, schema_keys: SchemaKeys | None) -> None:
    container: Any = config
    for depth, part in enumerate(path):
        where = ".".join(path[:depth])
        if isinstance(container, dict):
            if part not in container:
                accepted = (schema_keys(config, path[:depth]) if schema_keys else None) or ()
                if part not in accepted or depth < len(path) - 1:
                    raise ConfigError(_unknown_key(path, value, depth, [*container, *accepted]))
            key: str | int = part
        elif isinstance(container, list):
            if not part.isdigit() or int(part) >= len(container):
                raise ConfigError(
                    f"-o {_show(path, value)}: '{where}' is a list of {len(container)}, "
                    f"so '{part}' is not a valid index"
                )
            key = int(part)
        else:
            raise ConfigError(
                f"-o {_show(path, value)}: '{where}' is {json.dumps(container)}, not an object, "
                f"so it has no key '{part}'"
            )
        if depth == len(path) - 1:
            container[key] = value
        else:
            container = container[key]


def _unknown_key(path: KeyPath, value: Any, depth: int, keys: list[str]) -> str:
    where = ".".join(path[:depth])
    scope = f"'{where}'" if where else "the config"
    part = path[depth]
    if part in keys:  # a key the schema accepts, left out of the config, with more path below it
        return (f"-o {_show(path, value)}: the config leaves '{'.'.join(path[:depth + 1])}' out (at its "
                f"default); set it whole, e.g. -o '{'.'.join(path[:depth + 1])}={{...}}'")
    return f"-o {_show(path, value)}: no key '{part}' in {scope}.{did_you_mean(part, list(dict.fromkeys(keys)))}"


def _show(path: KeyPath, value: Any) -> str:
    """The override as the user would have typed it in dotted form."""
    return f"{'.'.join(path)}={value if isinstance(value, str) else json.dumps(value)}"
