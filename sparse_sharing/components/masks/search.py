"""The `search` mask source: per-task iterative magnitude pruning (IMP), the paper's method.

Round k of a task: the runner rewinds every weight to the rewind point (θw after the
multi-task warm-up, or θ0), trains the task alone on M_k ⊙ θ for the round's budget with the
same loop as every run, scores dev; the pruner then turns the weights of the round's dev-best
evaluation into M_{k+1}, and the round records that dev score (the authors reload a round's
best-dev epoch before pruning; a round with one evaluation ends at it).
Round 0 is the dense network. Each round is a stage with its own files
(``mask_search/<task>/round_<k>.{pt,json}``, named in ``sparse_sharing.paths``) and draws its
own random numbers, so a round redone on --resume, or run in a worker process, trains exactly
as in an uninterrupted search. The selection rule then picks one round per task.
"""
from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sparse_sharing.components.masks.candidates import (
    CandidateSource,
    CandidateSourceConfig,
    budget,
    candidate_seed,
    one_of,
    save_candidate,
    saved_candidate,
)
from sparse_sharing.components.masks.mask_set import all_kept
from sparse_sharing.components.masks.selection import FixedRoundConfig
from sparse_sharing.components.masks.source import MaskContext
from sparse_sharing.components.pruners.pruners import MagnitudePrunerConfig
from sparse_sharing.components.records import CandidateRecord
from sparse_sharing.registry import MASK_SOURCES, PRUNERS, ComponentConfig, Nested


class MaskSearchConfig(CandidateSourceConfig):
    type: Literal["search"]
    pruner: Annotated[ComponentConfig, Nested(PRUNERS)] = Field(
        default_factory=lambda: MagnitudePrunerConfig(type="magnitude"),
        description="How each round prunes (`ssl components pruner`); its `rounds` and `final_kept` set the rate.")
    rounds: int | None = Field(None, gt=0, description="Pruning rounds to run; none = the pruner's `rounds`.")
    min_kept_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="Stop the search once the kept fraction falls below this.")
    steps_per_round: int | None = Field(None, gt=0, description="Training steps of each round.")
    epochs_per_round: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")

    @model_validator(mode="after")
    def _one_budget(self) -> "MaskSearchConfig":
        one_of(self, "steps_per_round", "epochs_per_round")
        if self.rounds is None and not isinstance(getattr(self.pruner, "rounds", None), int):
            raise ValueError(f"pruner '{self.pruner.type}' has no `rounds`: give the search's `rounds`")
        if isinstance(self.selection, FixedRoundConfig) and self.selection.round > self.num_rounds:
            raise ValueError(f"selection round {self.selection.round} is beyond the {self.num_rounds} rounds searched")
        return self

    @property
    def num_rounds(self) -> int:
        return self.rounds if self.rounds is not None else self.pruner.rounds

    def round_steps(self, batches: int) -> int:
        """Training steps of one round for a task with ``batches`` training batches a pass."""
        return budget(self.steps_per_round, self.epochs_per_round, batches)

    def estimated_steps(self, batches: dict[str, int]) -> int:
        """Steps of the whole search (warm-up and every round of every task), for planning a sweep."""
        return self.warmup_steps + sum((self.num_rounds + 1) * self.round_steps(b) for b in batches.values())


@MASK_SOURCES.register("search", config=MaskSearchConfig)
class IterativePruningSearch(CandidateSource):
    def __init__(self, config: MaskSearchConfig) -> None:
        super().__init__(config)
        self.pruner = PRUNERS.build(config.pruner)

    def candidates(self, task: str, context: MaskContext) -> list[CandidateRecord]:
        """Every round's record, each round run only when its files are missing."""
        paths, config = context.paths, self.config
        mask = all_kept(context.mask_shapes())
        total = sum(m.numel() for m in mask.values())
        records = []
        for k in range(config.num_rounds + 1):
            kept = sum(int(m.sum()) for m in mask.values()) / total
            if kept < config.min_kept_fraction:
                break
            saved = saved_candidate(paths, task, k, context.mask_shapes())
            if saved is not None:
                records.append(saved.record)
                mask = saved.tensors["next_mask"]
                continue
            started = time.monotonic()
            steps = config.round_steps(context.batches_per_epoch(task))
            stage = f"mask search {task} round {k}/{config.num_rounds} (kept {100 * kept:.1f}%)"
            trained = context.train(task, mask, steps, candidate_seed(context.seed, task, k), stage=stage)
            next_mask = self.pruner.prune(trained.weights, mask)
            records.append(save_candidate(paths, task, k, {"mask": mask, "next_mask": next_mask}, trained.dev_score,
                                          trained.steps, started, last=config.num_rounds))
            mask = next_mask
        return records
