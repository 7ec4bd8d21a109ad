"""The `one_shot` mask source: train dense once, prune once to each candidate, retrain each briefly.

Per task: train the dense network for ``train_steps`` from the rewind point, prune the trained
weights once to each configured kept fraction by magnitude, and retrain each candidate for
``retrain_steps`` from the rewind point before scoring it on dev. Each stage (the dense training,
``mask_search/<task>/dense.pt``; each candidate) is skipped on resume once its file exists. The
dense training's steps and seconds go to ``dense.json`` first, so the search's cost counts it
even when a later session finishes the candidates.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sparse_sharing.components.masks.candidates import (
    REDO_STAGE,
    CandidateSource,
    KeptFractionsConfig,
    budget,
    candidate_seed,
    one_of,
    prune_to,
    save_candidate,
    saved_candidate,
)
from sparse_sharing.components.masks.mask_set import all_kept
from sparse_sharing.components.masks.source import MaskContext
from sparse_sharing.components.records import CandidateRecord
from sparse_sharing.files import load_torch, save_torch, write_json
from sparse_sharing.registry import MASK_SOURCES

logger = logging.getLogger(__name__)


class OneShotConfig(KeptFractionsConfig):
    type: Literal["one_shot"]
    train_steps: int | None = Field(None, gt=0, description="Dense training steps from the rewind point "
                                    "before the one prune.")
    train_epochs: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")
    retrain_steps: int | None = Field(None, gt=0, description="Training steps of each candidate from the "
                                      "rewind point before it is scored on dev.")
    retrain_epochs: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")

    @model_validator(mode="after")
    def _check(self) -> "OneShotConfig":
        one_of(self, "train_steps", "train_epochs")
        one_of(self, "retrain_steps", "retrain_epochs")
        return self

    def dense_steps(self, batches: int) -> int:
        return budget(self.train_steps, self.train_epochs, batches)

    def retrain_budget(self, batches: int) -> int:
        return budget(self.retrain_steps, self.retrain_epochs, batches)

    def estimated_steps(self, batches: dict[str, int]) -> int:
        """Steps of the whole source (warm-up, every task's dense run and retrainings), for planning a sweep."""
        return self.warmup_steps + sum(self.dense_steps(b) + len(self.kept_fractions) * self.retrain_budget(b)
                                       for b in batches.values())


@MASK_SOURCES.register("one_shot", config=OneShotConfig)
class OneShotPruning(CandidateSource):
    """One dense training per task, one magnitude prune to each kept fraction, a short retraining each."""

    config: OneShotConfig

    def candidates(self, task: str, context: MaskContext) -> list[CandidateRecord]:
        paths, config = context.paths, self.config
        batches = context.batches_per_epoch(task)
        dense = all_kept(context.mask_shapes())
        dense_path = paths.dense_weights(task)
        if not dense_path.is_file():
            started = time.monotonic()
            trained = context.train(task, dense, config.dense_steps(batches), candidate_seed(context.seed, task, 0),
                                    stage=f"one-shot {task} dense training")
            write_json(paths.dense_record(task), {"steps": trained.steps,
                                                  "seconds": round(time.monotonic() - started, 1)})
            save_torch(dense_path, trained.weights)
            logger.info("one-shot %s: dense training done", task)
        weights = load_torch(dense_path, "dense weights", advice=REDO_STAGE)
        records = []
        for k, kept in enumerate(config.kept_fractions):
            saved = saved_candidate(paths, task, k, context.mask_shapes())
            if saved is not None:
                records.append(saved.record)
                continue
            started = time.monotonic()
            mask = prune_to(weights, dense, kept, config.scope)
            last = len(config.kept_fractions) - 1
            stage = f"one-shot {task} round {k}/{last} (kept {100 * kept:.1f}%)"
            trained = context.train(task, mask, config.retrain_budget(batches),
                                    candidate_seed(context.seed, task, k + 1), stage=stage)
            records.append(save_candidate(paths, task, k, {"mask": mask}, trained.dev_score, trained.steps, started,
                                          last=last))
        dense_steps, dense_seconds = config.dense_steps(batches), recorded_dense_seconds(paths.dense_record(task))
        return [{**record, "dense_steps": dense_steps, "dense_seconds": dense_seconds} for record in records]

    def search_steps(self, records: list[CandidateRecord]) -> int:
        """The dense training and every retraining."""
        return records[0]["dense_steps"] + sum(r["steps"] for r in records)

    @staticmethod
    def search_seconds(records: list[CandidateRecord]) -> float:
        """The dense training and every retraining; where the dense training's time was not recorded
        (before 0.2.0), the retrainings alone."""
        return round((records[0].get("dense_seconds") or 0.0) + sum(r["seconds"] for r in records), 1)


def recorded_dense_seconds(path: Path) -> float | None:
    """The dense training's seconds from ``dense.json``; None where it is missing or unreadable (it is
    a figure of the cost only, so training goes on)."""
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
