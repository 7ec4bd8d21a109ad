"""The `search` mask source: per-task iterative magnitude pruning (IMP), the paper's method.

Round k of a task: the runner rewinds every weight to the rewind point (θw after the
multi-task warm-up, or θ0), trains the task alone on M_k ⊙ θ for the round's budget with the
same loop as every run, scores dev; the pruner then turns the trained weights into M_{k+1}.
Round 0 is the dense network. Each round is a stage with its own files
(``mask_search/<task>/round_<k>.{pt,json}``, named in ``sparse_sharing.paths``) and draws its
own random numbers, so a round redone on --resume, or run in a worker process, trains exactly
as in an uninterrupted search. The selection rule then picks one round per task.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sparse_sharing.components.masks.selection import BestDevConfig, FixedRoundConfig
from sparse_sharing.components.masks.mask_set import all_kept
from sparse_sharing.components.masks.source import Mask, MaskContext, MaskSource
from sparse_sharing.components.pruners.pruners import MagnitudePrunerConfig
from sparse_sharing.files import load_torch, save_torch, write_json
from sparse_sharing.registry import MASKS, PRUNERS, SELECTIONS, ComponentConfig, Nested

logger = logging.getLogger(__name__)


class MaskSearchConfig(ComponentConfig):
    type: Literal["search"]
    pruner: Annotated[ComponentConfig, Nested(PRUNERS)] = Field(
        default_factory=lambda: MagnitudePrunerConfig(type="magnitude"),
        description="How each round prunes (`ssl components pruner`); its `rounds` and `final_kept` set the rate.")
    rounds: int | None = Field(None, gt=0, description="Pruning rounds to run; none = the pruner's `rounds`.")
    min_kept_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="Stop the search once the kept fraction falls below this.")
    steps_per_round: int | None = Field(None, gt=0, description="Training steps of each round.")
    epochs_per_round: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")
    warmup_steps: int = Field(0, ge=0, description="Multi-task warm-up (hard sharing over all tasks) before the "
                              "search; its weights θw are the rewind point. 0 = no warm-up, rewind to θ0.")
    selection: Annotated[ComponentConfig, Nested(SELECTIONS)] = Field(
        default_factory=BestDevConfig,
        description="Which round's mask each task keeps (`ssl components selection`): best_dev (ties go to the "
        "sparser mask), a fixed round, or the nearest kept fraction.")
    jobs: int = Field(1, gt=0, description="Tasks searched in parallel processes (one torch thread each); "
                      "`ssl train --jobs` overrides it.")

    @model_validator(mode="after")
    def _one_budget(self) -> "MaskSearchConfig":
        if (self.steps_per_round is None) == (self.epochs_per_round is None):
            raise ValueError("give exactly one of steps_per_round and epochs_per_round")
        if self.rounds is None and not isinstance(getattr(self.pruner, "rounds", None), int):
            raise ValueError(f"pruner '{self.pruner.type}' has no `rounds`: give the search's `rounds`")
        if isinstance(self.selection, FixedRoundConfig) and self.selection.round > self.num_rounds:
            raise ValueError(f"selection round {self.selection.round} is beyond the {self.num_rounds} rounds searched")
        return self

    @property
    def num_rounds(self) -> int:
        return self.rounds if self.rounds is not None else self.pruner.rounds


@MASKS.register("search", config=MaskSearchConfig)
class IterativePruningSearch(MaskSource):
    def __init__(self, config: MaskSearchConfig) -> None:
        self.config = config
        self.warmup_steps = config.warmup_steps
        self.jobs = config.jobs
        self.pruner = PRUNERS.build(config.pruner)
        self.selection = SELECTIONS.build(config.selection)

    def find(self, task: str, context: MaskContext) -> tuple[Mask, dict[str, Any]]:
        records = self.rounds(task, context)
        best = self.selection.choose(records)
        chosen = load_torch(context.paths.round_masks(task, best["round"]))["mask"]
        return chosen, {"round": best["round"], "dev_score": best["dev_score"],
                        "selection": self.config.selection.model_dump(), "rounds": records,
                        "search": self.config.model_dump()}

    def rounds(self, task: str, context: MaskContext) -> list[dict[str, Any]]:
        """Every round's record, each round run only when its files are missing."""
        paths, config = context.paths, self.config
        mask = all_kept(context.mask_shapes())
        total = sum(m.numel() for m in mask.values())
        records = []
        for k in range(config.num_rounds + 1):
            kept = sum(int(m.sum()) for m in mask.values()) / total
            if kept < config.min_kept_fraction:
                break
            record_path, masks_path = paths.round_record(task, k), paths.round_masks(task, k)
            if record_path.is_file() and masks_path.is_file():
                records.append(json.loads(record_path.read_text()))
                mask = load_torch(masks_path)["next_mask"]
                continue
            started = time.monotonic()
            trained = context.train(task, mask, self._round_steps(task, context), _round_seed(context.seed, task, k))
            next_mask = self.pruner.prune(trained.weights, mask)
            record = {"task": task, "round": k, "kept_fraction": kept, "dev_score": trained.dev_score,
                      "steps": trained.steps, "seconds": round(time.monotonic() - started, 1)}
            save_torch(masks_path, {"mask": mask, "next_mask": next_mask})
            write_json(record_path, record)
            logger.info("mask search %s round %d: kept %.2f%%, dev %.2f", task, k, 100 * kept, trained.dev_score)
            records.append(record)
            mask = next_mask
        return records

    def _round_steps(self, task: str, context: MaskContext) -> int:
        if self.config.steps_per_round is not None:
            return self.config.steps_per_round
        return max(1, round(self.config.epochs_per_round * context.batches_per_epoch(task)))


def _round_seed(seed: int, task: str, k: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{task}/{k}".encode()).digest()[:4], "little")
