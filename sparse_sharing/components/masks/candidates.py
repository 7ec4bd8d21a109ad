"""What every training mask source shares: per-task candidate masks on disk, one kept by the
selection rule, and the search's cost in the report.

A *candidate* is a mask a source recorded for a task together with its dev score: an IMP round
(``search``), a stop of gradual pruning (``gradual``), a one-shot prune (``one_shot``). Each is a
stage with its own files, named in ``sparse_sharing.paths``:

    mask_search/<task>/round_<k>.pt|json   candidate k: its mask; kept fraction, dev score, steps

so ``ssl masks``, ``--resume`` and joint training do not care which source made a mask, and one
selection rule (``masks.selection``: best dev, ties to the sparser) picks among them for all.
Each report records what the search cost: ``search_steps`` (training steps spent on the task),
``search_seconds`` (its wall time) and ``warmup_steps`` (the multi-task warm-up every task
shares), repeated in metrics.json. Each source counts its own cost, because its candidates relate
differently to the work: IMP's rounds are trainings of their own (summed), gradual pruning's
candidates are moments of one run (the last one counts), one-shot's retrainings share a dense run
(added once).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from abc import abstractmethod
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import torch
from pydantic import Field, field_validator, model_validator

from sparse_sharing.components.masks.selection import BestDevConfig, FixedRoundConfig
from sparse_sharing.components.masks.source import Mask, MaskContext, MaskSource
from sparse_sharing.components.records import CandidateRecord
from sparse_sharing.components.pruners.pruners import MagnitudePruner, MagnitudePrunerConfig
from sparse_sharing.errors import RunDirError
from sparse_sharing.files import first_line, load_torch, save_torch, write_json
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import MASK_SOURCES, SELECTIONS, ComponentConfig, Nested

logger = logging.getLogger(__name__)

Record = CandidateRecord  # the former name, kept for plugins that import it


class SavedCandidate(NamedTuple):
    """A candidate read back from its two files."""

    record: CandidateRecord
    tensors: dict[str, Any]  # ``mask``, and what else its source saved (``search``: ``next_mask``)


class CandidateSourceConfig(ComponentConfig):
    """The options every candidate source has: the rewind point, the selection rule, parallel tasks."""

    warmup_steps: int = Field(0, ge=0, description="Multi-task warm-up (hard sharing over all tasks) before the "
                              "search; its weights θw are the rewind point. 0 = no warm-up, rewind to θ0.")
    selection: Annotated[ComponentConfig, Nested(SELECTIONS)] = Field(
        default_factory=BestDevConfig,
        description="Which candidate (round) each task keeps (`ssl components selection`): best_dev (ties go to "
        "the sparser mask), a fixed round, or the nearest kept fraction.")
    jobs: int = Field(1, gt=0, description="Tasks searched in parallel processes (one torch thread each); "
                      "`ssl train --jobs` overrides it.")


class KeptFractionsConfig(CandidateSourceConfig):
    """A source that prunes straight to given kept fractions (`gradual`, `one_shot`) by magnitude."""

    kept_fractions: list[float] = Field(
        min_length=1, description="The candidates: kept fractions (of the prunable weights) at which a mask is "
        "recorded and scored on dev, strictly decreasing, e.g. 0.1^(k/20) for k = 1..20 as IMP.")
    scope: Literal["global", "layerwise"] = Field(
        "global", description="global: one magnitude threshold over all prunable tensors (as IMP); layerwise: "
        "the same fraction kept in every tensor.")

    @field_validator("kept_fractions")
    @classmethod
    def _decreasing(cls, fractions: list[float]) -> list[float]:
        if any(not 0.0 < f <= 1.0 for f in fractions):
            raise ValueError(f"kept fractions must lie in (0, 1]: {fractions}")
        if any(b >= a for a, b in zip(fractions, fractions[1:])):
            raise ValueError(f"kept fractions must strictly decrease: {fractions}")
        return fractions

    @model_validator(mode="after")
    def _round_exists(self) -> "KeptFractionsConfig":
        if isinstance(self.selection, FixedRoundConfig) and self.selection.round >= len(self.kept_fractions):
            raise ValueError(f"selection round {self.selection.round} is beyond the {len(self.kept_fractions)} "
                             f"candidates (rounds 0–{len(self.kept_fractions) - 1})")
        return self


def budget(steps: int | None, epochs: float | None, batches: int) -> int:
    """A training budget given as steps, or as passes over ``batches`` batches (at least one step)."""
    return steps if steps is not None else max(1, round(epochs * batches))


def one_of(config: Any, steps: str, epochs: str) -> None:
    """A budget is given one way: raises unless exactly one of the two fields is set."""
    if (getattr(config, steps) is None) == (getattr(config, epochs) is None):
        raise ValueError(f"give exactly one of {steps} and {epochs}")


class CandidateSource(MaskSource):
    """A source that records candidates per task and keeps one by the shared selection rule."""

    def __init__(self, config: CandidateSourceConfig) -> None:
        self.config = config
        self.warmup_steps = config.warmup_steps
        self.jobs = config.jobs
        self.selection = SELECTIONS.build(config.selection)

    @abstractmethod
    def candidates(self, task: str, context: MaskContext) -> list[CandidateRecord]:
        """Every candidate's record, work already on disk (``context.paths``) not redone."""

    def search_steps(self, records: list[CandidateRecord]) -> int:
        """Training steps the task's search spent (each candidate trained on its own by default)."""
        return sum(r["steps"] for r in records)

    @staticmethod
    def search_seconds(records: list[CandidateRecord]) -> float:
        """Wall time of the task's search, from its candidates' records (each trained on its own by
        default: their seconds summed). A function of the records alone, so a report written before
        reports recorded it can be costed from its rounds (``recorded_search_seconds``)."""
        return round(sum(r["seconds"] for r in records), 1)

    def find(self, task: str, context: MaskContext) -> tuple[Mask, dict[str, Any]]:
        records = self.candidates(task, context)
        best = self.selection.choose(records)
        chosen = read_candidate(context.paths.round_masks(task, best["round"]), context.mask_shapes())["mask"]
        return chosen, {"round": best["round"], "dev_score": best["dev_score"], "source": self.config.type,
                        "selection": self.config.selection.model_dump(), "rounds": records,
                        "search_steps": self.search_steps(records), "search_seconds": self.search_seconds(records),
                        "warmup_steps": self.config.warmup_steps, "search": self.config.model_dump()}


def recorded_search_seconds(report: dict[str, Any]) -> float | None:
    """A mask report's ``search_seconds``; None where it has no rounds. Reports written before 0.2.0
    have none: they are costed from their rounds by the ``search_seconds`` of the registered
    ``CandidateSource`` named in them, by summing the rounds' seconds for any other source (as 0.1
    did for all), or not at all (None) where the rounds lack seconds."""
    if "search_seconds" in report:
        return report["search_seconds"]
    rounds = report.get("rounds")
    if not rounds:
        return None
    source = report.get("source")
    factory = MASK_SOURCES.get(source).factory if source in MASK_SOURCES.names() else None
    known = isinstance(factory, type) and issubclass(factory, CandidateSource)
    cost = factory.search_seconds if known else CandidateSource.search_seconds
    try:
        return cost(rounds)
    except (KeyError, TypeError):  # rounds without seconds; a plugin's search_seconds that needs its instance
        return None


def candidate_seed(seed: int, task: str, k: int) -> int:
    """Candidate k's own random stream, so it trains alike when redone on resume or in a worker."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{task}/{k}".encode()).digest()[:4], "little")


def saved_candidate(paths: RunPaths, task: str, k: int, shapes: Any = None) -> SavedCandidate | None:
    """Candidate k's record and tensors (``mask``, and what else its source saved) when both files exist;
    with ``shapes`` (name → shape of every masked tensor) its masks are checked to fit this model."""
    record_path, masks_path = paths.round_record(task, k), paths.round_masks(task, k)
    if record_path.is_file() and masks_path.is_file():
        return SavedCandidate(read_record(record_path), read_candidate(masks_path, shapes))
    return None


REDO_STAGE = "delete it and resume: the search makes it again"


def read_record(path: Path) -> CandidateRecord:
    """A candidate's record, checked: the selection rule compares its numbers."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        for key, kind in (("dev_score", float), ("kept_fraction", float), ("round", int)):
            kind(record[key])  # the selection compares these: each must be there and be a number
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise RunDirError(f"search round record {path} is damaged ({first_line(error)}); {REDO_STAGE}") from None
    return record


def read_candidate(path: Path, shapes: Any = None) -> dict[str, Any]:
    """A round file's tensors; with ``shapes``, its ``mask`` (and ``next_mask``, where saved) checked against
    the names and shapes of this model's masked tensors."""
    stored = load_torch(path, "search round file", advice=REDO_STAGE)
    try:
        keys = [key for key in ("mask", "next_mask") if key == "mask" or key in stored]
        for key in keys:
            tensors = stored[key]
            if shapes is not None and (set(tensors) != set(shapes) or any(
                    tuple(tensors[n].shape) != tuple(shapes[n]) or tensors[n].dtype != torch.bool for n in shapes)):
                raise ValueError(f"its {key} does not fit this model's masked tensors")
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise RunDirError(f"search round file {path} does not hold this run's masks ({first_line(error)}); "
                          f"{REDO_STAGE}") from None
    return stored


def save_candidate(paths: RunPaths, task: str, k: int, tensors: dict[str, Any], dev_score: float, steps: int,
                   started: float, last: int | None = None) -> CandidateRecord:
    """Write candidate k: ``tensors`` (its ``mask``, kept = True, and what else its source needs on resume)
    and its record; the record is written last, so a candidate is done once it exists."""
    mask = tensors["mask"]
    kept = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    record: CandidateRecord = {"task": task, "round": k, "kept_fraction": kept, "dev_score": dev_score, "steps": steps,
              "seconds": round(time.monotonic() - started, 1)}
    save_torch(paths.round_masks(task, k), tensors)
    write_json(paths.round_record(task, k), record)
    of = f"/{last}" if last is not None else ""  # the last round's number
    logger.info("mask search %s round %d%s: kept %.2f%%, dev %.2f", task, k, of, 100 * kept, dev_score)
    return record


def prune_to(weights: Mask, mask: Mask, kept_fraction: float, scope: Literal["global", "layerwise"]) -> Mask:
    """``mask`` pruned by magnitude until ``kept_fraction`` of all its entries are kept (the
    pruners' exact counts and tie rule); unchanged when it keeps no more than that already."""
    total = sum(m.numel() for m in mask.values())
    kept = sum(int(m.sum()) for m in mask.values())
    rate = 1.0 - kept_fraction * total / kept
    if rate <= 0.0:
        return {n: m.clone() for n, m in mask.items()}
    return MagnitudePruner(MagnitudePrunerConfig(type="magnitude", rate=rate, scope=scope)).prune(weights, mask)
