"""Turn an experiment file into a plain dict, with errors a user can act on.

Jsonnet's own errors carry a full evaluation stack; the user needs the file, the line and
the message, so everything else is dropped before the error reaches the CLI.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import _jsonnet

from sparse_sharing.errors import ConfigError

# A location as Jsonnet prints it: `file:12:5`, `file:12:5-9` or `file:(12:5)-(14:1)`.
_LOCATION = r"\S.*?:(?:\d+:\d+(?:-\d+)?|\(\d+:\d+\)-\(\d+:\d+\))"
_STATIC_ERROR = re.compile(rf"STATIC ERROR: (?P<location>{_LOCATION}): (?P<message>.*)", re.DOTALL)
_FRAME = re.compile(rf"\t(?P<location>{_LOCATION})(?:\t.*)?")
_UNDEFINED_EXT_VAR = re.compile(r"undefined external variable: (?P<name>.+)")
_EXT_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_FRAMES = 3
# Frames inside Jsonnet's standard library (std.map, std.foldl...) point at code the user never wrote.
_STDLIB = "std.jsonnet:"


def evaluate_jsonnet(
    path: Path,
    ext_vars: Mapping[str, str] = {},
    jpathdir: Sequence[Path] = (),
) -> dict[str, Any]:
    """Evaluate a Jsonnet (or JSON) experiment file to its config object.

    Only the given ``ext_vars`` are visible to ``std.extVar``: passing the environment would
    make a run depend on whatever happens to be exported in the shell that started it.
    ``jpathdir`` lists library directories searched after the file's own directory (the last
    one that has the file wins).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = _jsonnet.evaluate_file(
            str(path),
            ext_vars=dict(ext_vars),
            jpathdir=[str(d) for d in jpathdir],
        )
    except RuntimeError as error:
        raise ConfigError(_describe_jsonnet_error(str(error), path)) from None
    config = json.loads(text)
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must evaluate to a JSON object, got {type(config).__name__}")
    return config


def parse_ext_vars(pairs: Sequence[str]) -> dict[str, str]:
    """Parse ``--ext-var NAME=VALUE`` flags; a name given twice is an error, not a silent override."""
    ext_vars: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _EXT_VAR_NAME.fullmatch(name):
            raise ConfigError(f"--ext-var {pair!r}: expected NAME=VALUE, e.g. --ext-var data_dir=data/conll03")
        if name in ext_vars:
            raise ConfigError(f"--ext-var {name} given twice")
        ext_vars[name] = value
    return ext_vars


def _describe_jsonnet_error(raw: str, path: Path) -> str:
    """Reduce Jsonnet's report to `location message`, plus the few frames that lead to it."""
    static = _STATIC_ERROR.match(raw.strip())
    if static:
        return f"{static['location']} {static['message'].strip()}"

    lines = raw.strip().splitlines()
    message_lines = [line for line in lines if not line.startswith("\t")]
    message = "\n".join(message_lines).removeprefix("RUNTIME ERROR: ").strip()
    locations = [m["location"] for m in map(_FRAME.fullmatch, lines) if m and not m["location"].startswith(_STDLIB)]

    missing = _UNDEFINED_EXT_VAR.fullmatch(message)
    if missing:
        name = missing["name"]
        message = f"std.extVar('{name}') is not set: pass --ext-var {name}=VALUE"
    if not locations:
        return f"{path}: {message}"
    callers = [f"  from {location}" for location in locations[1:_MAX_FRAMES]]
    return "\n".join([f"{locations[0]} {message}", *callers])
