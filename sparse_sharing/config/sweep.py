"""The sweep file: a grid of experiments, each an ordinary run, validated before anything runs.

A sweep names runs (an experiment config, optional overrides, a name), the seeds to run each
with and the ext vars their configs read; every (run, seed) becomes the run directory
``<output>/<name>/seed-<seed>``. Config paths are relative to the sweep file, as Jsonnet
imports are, so a sweep file can sit beside its experiments; ``output``, like ``ssl train -s``,
and data paths are relative to the directory ``ssl sweep`` runs from.

Every run's experiment config is resolved and validated while the sweep is loaded, so a typo in
the eighteenth run stops the sweep before the first one starts, not an hour in.

A run whose masks come ``from_run`` another run directory names that directory in ``reads``:
where that directory is a run of the sweep, ``ssl sweep`` starts the reader only once it has
finished (``training.sweep.dependencies``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparse_sharing.config.errors import format_validation_error
from sparse_sharing.config.jsonnet import evaluate_jsonnet, parse_ext_vars
from sparse_sharing.config.loading import library_dirs, resolve_config
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import ConfigError

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"


class SweepStrict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepRunConfig(SweepStrict):
    name: str = Field(pattern=_NAME_PATTERN, description="The run's folder under `output` and its row in the "
                      "table; letters, digits and _ . + - only.")
    config: str = Field(description="Experiment config (Jsonnet or JSON), relative to the sweep file.")
    overrides: dict[str, Any] | list[str] = Field(
        default_factory=dict, description="Changes to the experiment config, like `ssl train -o`: an object "
        "merged key by key (a key the config has or the schema accepts there), or a list of `-o` strings.")
    ext_vars: dict[str, str] = Field(default_factory=dict, description="Ext vars for this run's config, over the "
                                     "sweep's own.")
    seeds: list[int] | None = Field(None, min_length=1, description="Seeds of this run; none = the sweep's seeds.")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds {seeds} repeat a seed")
        return seeds


class SweepConfig(SweepStrict):
    output: str = Field(description="Directory that holds the runs, `<output>/<name>/seed-<seed>`; relative to "
                        "where `ssl sweep` runs. `ssl sweep --output` replaces it.")
    seeds: list[int] = Field(min_length=1, description="Every run is trained once with each of these seeds "
                             "(the experiment's `seed`).")
    ext_vars: dict[str, str] = Field(default_factory=dict, description="std.extVar values for every run's config.")
    runs: list[SweepRunConfig] = Field(min_length=1, description="The experiments of the grid.")

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds {seeds} repeat a seed")
        return seeds

    @model_validator(mode="after")
    def _distinct_names(self) -> "SweepConfig":
        names = [run.name for run in self.runs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"run names must differ (each is a folder): {', '.join(repeated)} given twice")
        return self


@dataclass(frozen=True)
class PlannedRun:
    """One (run, seed) of a sweep: where it lives and the exact experiment config it trains."""

    name: str
    seed: int
    output: Path  # the sweep's output directory, which holds run_dir
    run_dir: Path
    config: dict[str, Any]  # resolved and validated; what `ssl train` receives and saves as config.json
    validated: Any
    reads: tuple[Path, ...] = ()  # run directories the config takes masks from (`from_run`), as written

    @property
    def key(self) -> str:
        return f"{self.name}/seed-{self.seed}"


def same_place(path: str | Path) -> str:
    """A directory as one string however it was written (relative, with ``..``, a trailing ``/``)."""
    return os.path.normpath(os.path.abspath(path))


def run_dirs_read(config: Any) -> list[Path]:
    """The ``path`` of every `from_run` block anywhere in ``config``: the runs whose masks it reuses."""
    if isinstance(config, dict):
        own = [Path(config["path"])] if config.get("type") == "from_run" and isinstance(config.get("path"), str) \
            else []
        return own + [path for value in config.values() for path in run_dirs_read(value)]
    if isinstance(config, list):
        return [path for value in config for path in run_dirs_read(value)]
    return []


def load_sweep(path: str | Path, ext_vars: Sequence[str] = (), output: str | Path | None = None,
               threads: int = 1, device: str | None = None) -> tuple[SweepConfig, list[PlannedRun]]:
    """Evaluate and validate the sweep file and every run's experiment config.

    Each run's config gets the seed of its run directory and ``threads`` torch threads, and a
    mask search inside it runs in one process (``masks.jobs`` = 1): parallelism is the sweep's,
    one run per worker, so the workers never oversubscribe the cores. ``device`` (for runs that
    share GPUs) sets the experiment's ``device``; each worker sees only its own card.
    """
    path = Path(path)
    raw = evaluate_jsonnet(path, parse_ext_vars(ext_vars), jpathdir=library_dirs(path))
    try:
        sweep = SweepConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, SweepConfig, str(path))) from None
    root = Path(output) if output is not None else Path(sweep.output)
    planned = []
    for run in sweep.runs:
        config_path = path.parent / run.config
        run_ext_vars = {**sweep.ext_vars, **run.ext_vars}
        overrides = run.overrides if isinstance(run.overrides, list) else (
            [json.dumps(run.overrides)] if run.overrides else [])
        where = f"{path}: run '{run.name}' ({config_path})"
        try:
            resolved = resolve_config(config_path, [f"{k}={v}" for k, v in run_ext_vars.items()], overrides)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        for seed in run.seeds or sweep.seeds:
            config = {**resolved, "seed": seed, "num_threads": threads}
            if device is not None:
                config["device"] = device
            if isinstance(config.get("masks"), dict) and "jobs" in config["masks"]:
                config["masks"] = {**config["masks"], "jobs": 1}
            validated = validate_experiment(config, source=where)
            planned.append(PlannedRun(run.name, seed, root, root / run.name / f"seed-{seed}", config, validated,
                                      tuple(run_dirs_read(config))))
    return sweep, planned


@dataclass(frozen=True)
class LoadedSweep:
    path: Path  # the sweep file
    config: SweepConfig
    runs: list[PlannedRun]


def load_sweeps(paths: Sequence[str | Path], ext_vars: Sequence[str] = (), output: str | Path | None = None,
                threads: int = 1, device: str | None = None) -> list[LoadedSweep]:
    """`load_sweep` of each file, for one pool. Two files may share an output directory (as Exp1's
    rows and the rows that reuse its masks do), but not a run directory: the same
    ``<output>/<name>/seed-<k>`` planned by two files would be trained by whichever came first.
    ``output`` replaces the output of a single file only."""
    if output is not None and len(paths) > 1:
        raise ConfigError(f"--output replaces the output of one sweep file; {len(paths)} were given, "
                          f"each of which names its own")
    loaded = [LoadedSweep(Path(path), *load_sweep(path, ext_vars, output, threads, device)) for path in paths]
    planned_by: dict[str, Path] = {}
    for sweep in loaded:
        for run in sweep.runs:
            place = same_place(run.run_dir)
            if place in planned_by:
                raise ConfigError(f"{sweep.path}: run '{run.name}' (seed {run.seed}) is {run.run_dir}, which "
                                  f"{planned_by[place]} plans too; give one of them another name or output")
            planned_by[place] = sweep.path
    return loaded
