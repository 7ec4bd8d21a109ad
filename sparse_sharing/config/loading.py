"""A config file plus ext vars and overrides, to a validated experiment config."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel

from sparse_sharing.config.errors import accepted_keys
from sparse_sharing.config.jsonnet import evaluate_jsonnet, parse_ext_vars
from sparse_sharing.config.overrides import KeyPath, apply_overrides, parse_overrides
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import ConfigError

# The Jsonnet library (base_network.libsonnet, embedded.libsonnet...), installed with the package.
LIBRARY = Path(__file__).resolve().parent / "jsonnet_lib"


def library_dirs(config_path: Path, jpaths: Sequence[Path] = ()) -> list[Path]:
    """Where ``import 'x.libsonnet'`` looks after the config's own folder, lowest priority first
    (Jsonnet lets the last directory win): the bundled library, a ``lib/`` beside the config's
    folder or its parent (a project laid out like ``experiments/``), then each ``-J DIR``."""
    for directory in jpaths:
        if not Path(directory).is_dir():
            raise ConfigError(f"-J {directory}: no such directory")
    here = Path(config_path).resolve().parent
    candidates = [LIBRARY, *(p for p in (here.parent / "lib", here / "lib") if p.is_dir()), *map(Path, jpaths)]
    return list(dict.fromkeys(candidates))


def resolve_config(path: str | Path, ext_vars: Sequence[str] = (), overrides: Sequence[str] = (),
                   jpaths: Sequence[Path] = ()) -> dict:
    path = Path(path)
    raw = evaluate_jsonnet(path, parse_ext_vars(ext_vars), jpathdir=library_dirs(path, jpaths))
    return apply_overrides(raw, parse_overrides(overrides), schema_keys=experiment_keys)


def experiment_keys(raw: dict, path: KeyPath) -> list[str] | None:
    """The keys the experiment schema accepts in the object at ``path`` of ``raw``, defaults
    included (so ``-o`` can set a key the config leaves at its default); None where ``raw`` does
    not validate or ``path`` is not an object of the schema (a task name is a key of ``tasks``,
    not of the schema, so ``-o`` cannot add a task)."""
    try:
        node: Any = validate_experiment(raw)
    except ConfigError:
        return None
    for part in path:
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return accepted_keys(type(node)) if isinstance(node, BaseModel) else None


def load_experiment(path: str | Path, ext_vars: Sequence[str] = (), overrides: Sequence[str] = (),
                    jpaths: Sequence[Path] = (), device: str | None = None,
                    jobs: int | None = None) -> tuple[dict, Any]:
    """The resolved JSON (to save in the run) and its validated form; ``device`` (``--device``)
    replaces the config's, which may leave it at its default and so cannot be overridden with -o;
    ``jobs`` (``--jobs``) replaces ``masks.jobs`` where the mask source has it, so the run's
    config.json says how its search ran."""
    raw = resolve_config(path, ext_vars, overrides, jpaths)
    if device is not None:
        raw = {**raw, "device": device}
    config = validate_experiment(raw, source=str(path))
    if jobs is not None and config.masks is not None and "jobs" in type(config.masks).model_fields:
        raw = {**raw, "masks": {**raw["masks"], "jobs": jobs}}
        config = validate_experiment(raw, source=str(path))
    return raw, config
