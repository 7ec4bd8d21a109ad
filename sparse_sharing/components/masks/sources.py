"""Where the masks of a masked strategy (`sparse`, `single_subnet`) come from.

`search`: per-task iterative magnitude pruning in this run (its builder is registered by
training/mask_search.py, which needs the training loop).
`from_run`: the chosen masks of an earlier run, which skips the search.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sparse_sharing.components.masks.mask_set import _COMPUTED_KEYS, MaskSet, read_mask_report
from sparse_sharing.components.pruners.pruners import MagnitudePrunerConfig, RandomPrunerConfig
from sparse_sharing.registry import MASKS, ComponentConfig

PrunerConfig = Annotated[Union[MagnitudePrunerConfig, RandomPrunerConfig], Field(discriminator="type")]


class BestDev(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["best_dev"] = "best_dev"


class FixedRound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["round"]
    round: int = Field(ge=0, description="Take this round's mask for every task (0 = dense).")


class TargetKept(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["kept_fraction"]
    kept_fraction: float = Field(gt=0.0, le=1.0, description="Take the round whose kept fraction is nearest.")


SelectionConfig = Annotated[Union[BestDev, FixedRound, TargetKept], Field(discriminator="type")]


class MaskSearchConfig(ComponentConfig):
    type: Literal["search"]
    pruner: PrunerConfig = Field(
        default_factory=lambda: MagnitudePrunerConfig(type="magnitude"),
        description="How each round prunes (`ssl components pruner`); its `rounds` and `final_kept` set the rate.")
    rounds: int | None = Field(None, gt=0, description="Pruning rounds to run; none = the pruner's `rounds`.")
    min_kept_fraction: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="Stop the search once the kept fraction falls below this.")
    steps_per_round: int | None = Field(None, gt=0, description="Training steps of each round.")
    epochs_per_round: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")
    warmup_steps: int = Field(0, ge=0, description="Multi-task warm-up (hard sharing over all tasks) before the "
                              "search; its weights θw are the rewind point. 0 = no warm-up, rewind to θ0.")
    selection: SelectionConfig = Field(default_factory=BestDev,
                                       description="Which round's mask each task keeps: best_dev (ties go to the "
                                       "sparser mask), a fixed round, or the nearest kept fraction.")
    jobs: int = Field(1, gt=0, description="Tasks searched in parallel processes (one torch thread each); "
                      "`ssl train --jobs` overrides it.")

    @model_validator(mode="after")
    def _one_budget(self) -> "MaskSearchConfig":
        if (self.steps_per_round is None) == (self.epochs_per_round is None):
            raise ValueError("give exactly one of steps_per_round and epochs_per_round")
        if isinstance(self.selection, FixedRound) and self.selection.round > self.num_rounds:
            raise ValueError(f"selection round {self.selection.round} is beyond the {self.num_rounds} rounds searched")
        return self

    @property
    def num_rounds(self) -> int:
        return self.rounds if self.rounds is not None else self.pruner.rounds

    def round_steps(self, batches: int) -> int:
        """Training steps of one round for a task with ``batches`` training batches a pass."""
        if self.steps_per_round is not None:
            return self.steps_per_round
        return max(1, round(self.epochs_per_round * batches))

    def estimated_steps(self, batches: dict[str, int]) -> int:
        """Steps of the whole search (warm-up and every round of every task), for planning a sweep."""
        return self.warmup_steps + sum((self.num_rounds + 1) * self.round_steps(b) for b in batches.values())


class FromRunConfig(ComponentConfig):
    type: Literal["from_run"]
    path: str = Field(description="Run directory whose masks/ to use (its chosen masks, one file per task).")


@MASKS.register("from_run", config=FromRunConfig)
def masks_from_run(config: FromRunConfig, *, experiment: Any, **_: Any) -> tuple[MaskSet, dict]:
    """The other run's chosen masks, checked against this model; joint training starts from this run's θ0."""
    directory = Path(config.path)
    tasks = experiment.tasks
    mask_set = MaskSet.load(directory, experiment.model.sharing.mask_shapes(), tasks=tasks)
    # The source's round, dev score, search...; what the report computes itself (kept fraction,
    # tensors...) is recomputed when this run saves the masks.
    reports = {task: {**{k: v for k, v in read_mask_report(directory, task).items() if k not in _COMPUTED_KEYS},
                      "from_run": str(directory)} for task in tasks}
    return mask_set, reports
