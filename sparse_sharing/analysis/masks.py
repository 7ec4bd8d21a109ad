"""The chosen masks of a run, their search rounds, overlaps and parameter counts, as plain data.

The parameter counts come from the run's own model (config.json + vocabulary.json) with its
masks set, so they follow whatever the strategy counts (``sparse``: the union of the masks;
``single_subnet``: each trunk's own mask) and include the unmasked counted parameters (LSTM
and conv biases). Building that model needs no data file: the vocabulary is saved in the run
and the tag schemes are in the config. When it cannot be built (no config, a plugin not
imported, pretrained vectors gone), the figures that depend only on the masks are still
reported, and the summary says why the counts are missing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparse_sharing.components.masks.mask_set import (MaskSet, Shape, mask_file, read_mask_file, read_mask_report,
                                                      stored_mask_tasks)
from sparse_sharing.config.schema import trained_tasks
from sparse_sharing.errors import RunDirError, UserError
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import DATASET_READERS
from sparse_sharing.training.model import MultiTaskTagger, build_model, parameter_counts
from sparse_sharing.training.experiment import load_trained, uses_masks

# What a search round's plot needs; records carry more (steps, seconds).
_ROUND_KEYS = ("round", "kept_fraction", "dev_score")


@dataclass
class RunMasks:
    run_dir: Path
    masks: MaskSet
    reports: dict[str, dict[str, Any]]
    rounds: dict[str, list[dict[str, Any]]]
    parameters: dict[str, Any]


def read_run_masks(run_dir: Path) -> RunMasks:
    run_dir = Path(run_dir)
    folder = RunPaths(run_dir).masks
    stored = stored_mask_tasks(run_dir)
    if not stored:
        raise RunDirError(f"{run_dir} has no masks (no {folder}/<task>.pt or .bits): only runs of masked "
                          f"strategies (sparse, single_subnet) have them")
    try:
        model, reason = _run_model(run_dir), None
    except UserError as error:
        model, reason = None, str(error)
    if model is None:
        masks = MaskSet.load(run_dir, _stored_shapes(mask_file(run_dir, stored[0])), tasks=stored)
        parameters = {"counted_from": "masks", "paper": None, "paper_unmasked": None, "total": None,
                      "note": f"the run's model could not be built: {reason}"}
    else:
        tasks = [t for t in model.sharing.tasks if t in stored] + [t for t in stored if t not in model.sharing.tasks]
        masks = MaskSet.load(run_dir, model.sharing.mask_shapes(), tasks=tasks)
        unmasked = parameter_counts(model)
        model.sharing.set_masks(masks)
        counts = parameter_counts(model)
        parameters = {"counted_from": "model", "paper": counts["paper"], "paper_unmasked": unmasked["paper"],
                      "total": counts["total"], "note": None}
    reports = {task: _report(run_dir, task) for task in masks.tasks}
    rounds = {task: _search_rounds(run_dir, task, reports[task]) for task in masks.tasks}
    return RunMasks(run_dir, masks, reports, rounds, parameters)


def _run_model(run_dir: Path) -> MultiTaskTagger:
    config, _, vocab = load_trained(run_dir)
    tasks = trained_tasks(config)
    schemes = {t: DATASET_READERS.build(config.tasks[t].dataset_reader).tag_scheme for t in tasks}
    model = build_model(config, vocab, tasks, schemes)
    if not uses_masks(model):
        raise RunDirError(f"its sharing strategy '{config.model.sharing.type}' uses no masks")
    return model


def _stored_shapes(path: Path) -> dict[str, Shape]:
    """Without a model, the first task's file says which tensors every task must mask."""
    return {name: tuple(t.shape) for name, t in read_mask_file(path).items()}


def _report(run_dir: Path, task: str) -> dict[str, Any]:
    """A mask without its report (converted by hand, say) still has figures; only round and score are unknown."""
    return read_mask_report(run_dir, task) if RunPaths(run_dir).mask_report(task).is_file() else {}


def _search_rounds(run_dir: Path, task: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The round records of this run's search, else those its report carries (masks taken `from_run`)."""
    records = []
    for path in RunPaths(run_dir).task_search(task).root.glob("round_*.json"):
        try:
            records.append(json.loads(path.read_text()))
        except json.JSONDecodeError as error:
            raise RunDirError(f"search record {path} is not valid JSON: {error}") from None
    records = records or list(report.get("rounds", []))
    missing = [r for r in records if any(key not in r for key in _ROUND_KEYS)]
    if missing:
        raise RunDirError(f"a search record of task '{task}' lacks one of {list(_ROUND_KEYS)}: {missing[0]}")
    return sorted(({key: r[key] for key in _ROUND_KEYS} for r in records), key=lambda r: r["round"])


def overlap_matrix(masks: MaskSet) -> list[list[float]]:
    """Pairwise overlap ratios as a task × task matrix (a mask overlaps itself fully) for tables and heatmaps."""
    pairs = masks.pairwise_overlaps()
    return [[1.0 if a == b else pairs.get((a, b), pairs.get((b, a))) for b in masks.tasks] for a in masks.tasks]


def summary(run: RunMasks) -> dict[str, Any]:
    """Everything `ssl masks` shows, JSON-ready; ``figures`` has the shape of metrics.json's ``masks``."""
    masks = run.masks
    return {
        "run_dir": str(run.run_dir),
        "tasks": {
            task: {
                "round": run.reports[task].get("round"),
                "dev_score": run.reports[task].get("dev_score"),
                **{key: value for key, value in masks.report(task).items()
                   if key in ("kept_fraction", "kept", "total", "tensors")},
                "search_rounds": run.rounds[task],
            }
            for task in masks.tasks
        },
        "figures": masks.summary(),
        "intersection_count": masks.intersection_count(),
        "union_count_per_tensor": masks.union_count_per_tensor(),
        "parameters": run.parameters,
    }
