"""A config file plus ext vars and overrides, to a validated experiment config."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from sparse_sharing.config.jsonnet import evaluate_jsonnet, parse_ext_vars
from sparse_sharing.config.overrides import apply_overrides, parse_overrides
from sparse_sharing.config.schema import validate_experiment


def library_dirs(config_path: Path) -> list[Path]:
    """`experiments/lib` beside the config's folder and under the current directory, when present."""
    candidates = [config_path.resolve().parent / "lib", config_path.resolve().parent.parent / "lib",
                  Path.cwd() / "experiments" / "lib"]
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


def resolve_config(path: str | Path, ext_vars: Sequence[str] = (), overrides: Sequence[str] = ()) -> dict:
    path = Path(path)
    raw = evaluate_jsonnet(path, parse_ext_vars(ext_vars), jpathdir=library_dirs(path))
    return apply_overrides(raw, parse_overrides(overrides))


def load_experiment(path: str | Path, ext_vars: Sequence[str] = (), overrides: Sequence[str] = (),
                    device: str | None = None) -> tuple[dict, Any]:
    """The resolved JSON (to save in the run) and its validated form; ``device`` (``--device``)
    replaces the config's, which may leave it at its default and so cannot be overridden with -o."""
    raw = resolve_config(path, ext_vars, overrides)
    if device is not None:
        raw = {**raw, "device": device}
    return raw, validate_experiment(raw, source=str(path))
