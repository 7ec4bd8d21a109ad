"""Command-line ``-o`` overrides applied to an evaluated config before validation.

Two spellings are accepted because each is convenient for something different:
``trainer.num_epochs=3`` for one value typed by hand, and a JSON object
``'{"trainer": {"num_epochs": 3}}'`` for several values pasted from a script.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from sparse_sharing.errors import ConfigError
from sparse_sharing.registry.registry import did_you_mean

KeyPath = tuple[str, ...]
Override = tuple[KeyPath, Any]


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


def apply_overrides(config: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """Return a copy of ``config`` with each override set, later ones winning.

    An override can only change a key that the config already has; it can never add one.
    This is deliberate: a misspelt key (``trainer.num_epoch``) would otherwise be added
    silently and the run would go ahead with the value the user meant to change, so it is
    an error that names the closest existing key instead. To set a key the config leaves
    at its default, override its parent with a whole object (``-o 'trainer={...}'``),
    which replaces that subtree.
    """
    result = copy.deepcopy(config)
    for path, value in overrides:
        _set(result, path, value)
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


def _set(config: dict[str, Any], path: KeyPath, value: Any) -> None:
    container: Any = config
    for depth, part in enumerate(path):
        where = ".".join(path[:depth])
        if isinstance(container, dict):
            if part not in container:
                scope = f"'{where}'" if where else "the config"
                raise ConfigError(
                    f"-o {_show(path, value)}: no key '{part}' in {scope}.{did_you_mean(part, list(container))}"
                )
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


def _show(path: KeyPath, value: Any) -> str:
    """The override as the user would have typed it in dotted form."""
    return f"{'.'.join(path)}={value if isinstance(value, str) else json.dumps(value)}"
