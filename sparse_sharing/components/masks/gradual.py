"""The `gradual` mask source: gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune").

One training run per task from the rewind point. Every ``prune_every`` steps between
``prune_start`` and ``prune_end`` (fractions of the budget) the kept fraction follows the cubic
schedule 1 − s_t with s_t = s_f + (s_i − s_f)(1 − p)³, p the progress through the pruning span,
s_i = 0 (dense) and s_f = 1 − the last candidate. When the schedule would pass a candidate, that
prune stops exactly at it, so every candidate trains for at least one interval; a candidate is
scored on dev just before the next prune removes more weights (the last one at the end of the
budget). The pruning is a loop callback handed to ``MaskContext.train``, acting through the same
functional masks as every run. Resume redoes an unfinished task's run (it is deterministic, so
it records the same candidates); a task with every candidate on disk is skipped.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Literal

from pydantic import Field, model_validator

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.masks.candidates import (
    CandidateSource,
    KeptFractionsConfig,
    budget,
    candidate_seed,
    one_of,
    prune_to,
    save_candidate,
    saved_candidate,
)
from sparse_sharing.components.masks.mask_set import MaskSet, all_kept
from sparse_sharing.components.masks.source import Mask, MaskContext
from sparse_sharing.components.records import CandidateRecord
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import MASK_SOURCES

Plan = list[tuple[int, float, int | None]]  # per prune: (step, kept fraction, candidate reached or None)


class GradualConfig(KeptFractionsConfig):
    type: Literal["gradual"]
    steps: int | None = Field(None, gt=0, description="Training steps of each task's one run.")
    epochs: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")
    prune_start: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the budget trained dense before "
                               "pruning begins (t0).")
    prune_end: float = Field(0.75, gt=0.0, le=1.0, description="Fraction of the budget at which the last "
                             "candidate's kept fraction is reached; the rest trains at it.")
    prune_every: int = Field(10, gt=0, description="Steps between two prunes (Δt).")

    @model_validator(mode="after")
    def _check(self) -> "GradualConfig":
        one_of(self, "steps", "epochs")
        if self.prune_end <= self.prune_start:
            raise ValueError(f"prune_end ({self.prune_end}) must come after prune_start ({self.prune_start})")
        return self

    def budget(self, batches: int) -> int:
        """Steps of a task's one run, for a task with ``batches`` training batches a pass."""
        return budget(self.steps, self.epochs, batches)

    def estimated_steps(self, batches: dict[str, int]) -> int:
        """Steps of the whole source (warm-up and every task's run), for planning a sweep."""
        return self.warmup_steps + sum(self.budget(b) for b in batches.values())


# ---------------------------------------------------------------------------- schedules
def cubic_kept_fraction(step: int, start: int, end: int, final_kept: float) -> float:
    """Zhu & Gupta's schedule as a kept fraction: 1 − s_t, s_t = s_f (1 − (1 − p)³), p = (t − t0)/(t_end − t0)
    clipped to [0, 1]; dense before ``start``, ``final_kept`` from ``end`` on."""
    progress = min(max((step - start) / (end - start), 0.0), 1.0)
    return 1.0 - (1.0 - final_kept) * (1.0 - (1.0 - progress) ** 3)


def prune_steps(config: GradualConfig, budget: int) -> tuple[int, int, list[int]]:
    """(t0, t_end, the steps after which a prune happens): every ``prune_every`` steps from t0 on,
    and t_end itself, where the final kept fraction is reached."""
    start, end = round(config.prune_start * budget), round(config.prune_end * budget)
    if end - start < config.prune_every * len(config.kept_fractions):
        raise ConfigError(f"masks.gradual: the pruning span ({end - start} steps of a {budget}-step budget) "
                          f"holds fewer than one prune every {config.prune_every} steps per candidate "
                          f"({len(config.kept_fractions)}); raise the budget or lower prune_every")
    steps = list(range(start + config.prune_every, end, config.prune_every)) + [end]
    return start, end, steps


def gradual_targets(config: GradualConfig, budget: int) -> Plan:
    """The plan of a gradual run: per prune step, (step, kept fraction to prune to, candidate index
    reached there or None). A prune never passes the next candidate, so each is reached exactly."""
    start, end, steps = prune_steps(config, budget)
    candidates = config.kept_fractions
    final = candidates[-1]
    plan: Plan = []
    kept, next_candidate = 1.0, 0
    if candidates[0] == 1.0:
        next_candidate = 1
    for step in steps:
        target = cubic_kept_fraction(step, start, end, final)
        if next_candidate < len(candidates) and target <= candidates[next_candidate]:
            plan.append((step, candidates[next_candidate], next_candidate))
            kept = candidates[next_candidate]
            next_candidate += 1
        elif target < kept:
            plan.append((step, target, None))
            kept = target
    if next_candidate < len(candidates):  # the span had too few prunes to reach every candidate
        missing = candidates[next_candidate:]
        raise ConfigError(f"masks.gradual: the schedule reaches no prune step for kept fractions {missing}; "
                          f"lower prune_every or widen prune_start..prune_end")
    return plan


# ------------------------------------------------------------------------ the source
class GradualPruning(Callback):
    """Prunes ``task``'s mask on the plan's steps; scores and records a candidate before its mask
    shrinks further. It acts on the running model (``trainer.model.sharing``, a masked strategy);
    the mask it tracks stays on the CPU, where masks live."""

    def __init__(self, task: str, mask: Mask, plan: Plan, scope: Literal["global", "layerwise"],
                 record: Callable[[Any, Mask, int], None], first_candidate: int | None) -> None:
        self.task = task
        self.mask = mask  # the mask training started under
        self.plan = {step: (kept, candidate) for step, kept, candidate in plan}
        self.scope = scope
        self.record = record
        self.pending = first_candidate  # the candidate the current mask is, not yet scored

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None:
        if trainer.step not in self.plan:
            return
        kept, candidate = self.plan[trainer.step]
        if self.pending is not None:
            self.record(trainer, self.mask, self.pending)
        sharing = trainer.model.sharing
        weights = {n: w.detach() for n, w in sharing.prunable_weights(self.task).items()}
        self.mask = prune_to(weights, self.mask, kept, self.scope)
        others = sharing.mask_set()
        sharing.set_masks(MaskSet({t: self.mask if t == self.task else others[t] for t in others.tasks}))
        self.pending = candidate

    def on_train_end(self, trainer: Any) -> None:
        if self.pending is not None:
            self.record(trainer, self.mask, self.pending)
            self.pending = None


@MASK_SOURCES.register("gradual", config=GradualConfig)
class GradualMagnitudePruning(CandidateSource):
    """Gradual magnitude pruning: one run per task on the cubic schedule, a candidate at each kept fraction."""

    config: GradualConfig

    def candidates(self, task: str, context: MaskContext) -> list[CandidateRecord]:
        paths, config = context.paths, self.config
        saved = [saved_candidate(paths, task, k, context.mask_shapes()) for k in range(len(config.kept_fractions))]
        if all(s is not None for s in saved):
            return [record for record, _ in saved]
        steps = config.budget(context.batches_per_epoch(task))
        started = time.monotonic()
        records: list[CandidateRecord] = []

        def record(trainer: Any, mask: Mask, k: int) -> None:
            dev = trainer.evaluate_task(task, "dev")["score"]
            records.append(save_candidate(paths, task, k, {"mask": mask}, dev, trainer.step, started,
                                          last=len(config.kept_fractions) - 1))

        dense = all_kept(context.mask_shapes())
        first = 0 if config.kept_fractions[0] == 1.0 else None
        pruning = GradualPruning(task, dense, gradual_targets(config, steps), config.scope, record, first)
        context.train(task, dense, steps, candidate_seed(context.seed, task, 0), callbacks=[pruning],
                      stage=f"gradual pruning {task}")
        return records

    def search_steps(self, records: list[CandidateRecord]) -> int:
        """The one run's steps: every candidate is a moment of it, not a training of its own."""
        return max(r["steps"] for r in records)

    @staticmethod
    def search_seconds(records: list[CandidateRecord]) -> float:
        """The one run's time: each candidate's seconds count from the run's start, so the last one's."""
        return max(r["seconds"] for r in records)
