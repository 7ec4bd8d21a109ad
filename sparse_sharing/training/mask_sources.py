"""Cheaper mask sources beside IMP's `search`: gradual magnitude pruning and one-shot pruning.

Both find, per task, a mask at each configured kept fraction (the *candidates*), score each on
dev and keep one by the same rule as IMP (`selection`: best dev, ties to the sparser). They
start from the same rewind point (θw after the multi-task warm-up, or θ0), prune by the same
magnitude ranking through the same functional masks, and write the same artifacts:

    mask_search/<task>/round_<k>.pt|json   candidate k (its mask; kept fraction, dev score, steps)
    masks/<task>.pt|json                   the chosen mask and its report (written by the pipeline)

so `ssl masks`, resume and joint training do not care which source made a mask. Each report
records the cost: ``search_steps``, the training steps the source spent on the task.

`gradual` (Zhu & Gupta 2017, "To prune, or not to prune"): one training run per task. Every
``prune_every`` steps between ``prune_start`` and ``prune_end`` (fractions of the budget) the
kept fraction follows the cubic schedule 1 − s_t with s_t = s_f + (s_i − s_f)(1 − p)³, p the
progress through the pruning span, s_i = 0 (dense) and s_f = 1 − the last candidate. When the
schedule would pass a candidate, that prune stops exactly at it, so every candidate trains for
at least one interval; a candidate is scored on dev just before the next prune removes more
weights (the last one at the end of the budget). Resume redoes an unfinished task's run (it is
deterministic, so it records the same candidates); finished tasks are skipped.

`one_shot`: train the dense network for ``train_steps`` from the rewind point, prune the
trained weights once to each candidate by magnitude, and retrain each candidate for
``retrain_steps`` from the rewind point before scoring it on dev. Each stage (the dense
training, each candidate) is skipped on resume once its file exists.
"""
from __future__ import annotations

import json
import logging
import math
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import torch
from pydantic import Field, field_validator, model_validator

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.masks.mask_set import MaskSet
from sparse_sharing.components.masks.sources import BestDev, SelectionConfig
from sparse_sharing.components.pruners.pruners import MagnitudePruner, MagnitudePrunerConfig
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import MASKS, ComponentConfig
from sparse_sharing.training.mask_search import (
    SearchPaths,
    _progress_callbacks,
    _random_state_kept,
    _round_seed,
    _with_task_mask,
    _without_test,
    choose_round,
    rewind,
    rewind_point,
)
from sparse_sharing.training.run_dir import RunPaths, load_torch, save_torch, write_json
from sparse_sharing.training.trainer import Trainer, seed_everything

logger = logging.getLogger(__name__)

Masks = dict[str, torch.Tensor]


class CandidateSourceConfig(ComponentConfig):
    """What both cheaper sources share with `search`: candidates, rewind point, selection, jobs."""

    kept_fractions: list[float] = Field(
        min_length=1, description="The candidates: kept fractions (of the prunable weights) at which a mask is "
        "recorded and scored on dev, strictly decreasing, e.g. 0.1^(k/20) for k = 1..20 as IMP.")
    scope: Literal["global", "layerwise"] = Field(
        "global", description="global: one magnitude threshold over all prunable tensors (as IMP); layerwise: "
        "the same fraction kept in every tensor.")
    warmup_steps: int = Field(0, ge=0, description="Multi-task warm-up (hard sharing over all tasks) whose "
                              "weights θw are the rewind point; 0 = rewind to θ0. Shared with `search`.")
    selection: SelectionConfig = Field(default_factory=BestDev, description="Which candidate each task keeps: "
                                       "best_dev (ties to the sparser), a fixed round (candidate index) or the "
                                       "nearest kept fraction.")
    jobs: int = Field(1, gt=0, description="Tasks run in parallel processes; `ssl train --jobs` overrides it.")

    @field_validator("kept_fractions")
    @classmethod
    def _decreasing(cls, fractions: list[float]) -> list[float]:
        if any(not 0.0 < f <= 1.0 for f in fractions):
            raise ValueError(f"kept fractions must lie in (0, 1]: {fractions}")
        if any(b >= a for a, b in zip(fractions, fractions[1:])):
            raise ValueError(f"kept fractions must strictly decrease: {fractions}")
        return fractions


def _budget(steps: int | None, epochs: float | None, batches: int) -> int:
    return steps if steps is not None else max(1, round(epochs * batches))


def _one_of(config: Any, steps: str, epochs: str) -> None:
    if (getattr(config, steps) is None) == (getattr(config, epochs) is None):
        raise ValueError(f"give exactly one of {steps} and {epochs}")


class GradualConfig(CandidateSourceConfig):
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
        _one_of(self, "steps", "epochs")
        if self.prune_end <= self.prune_start:
            raise ValueError(f"prune_end ({self.prune_end}) must come after prune_start ({self.prune_start})")
        return self

    def budget(self, batches: int) -> int:
        return _budget(self.steps, self.epochs, batches)

    def estimated_steps(self, batches: dict[str, int]) -> int:
        return self.warmup_steps + sum(self.budget(b) for b in batches.values())


class OneShotConfig(CandidateSourceConfig):
    type: Literal["one_shot"]
    train_steps: int | None = Field(None, gt=0, description="Dense training steps from the rewind point "
                                    "before the one prune.")
    train_epochs: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")
    retrain_steps: int | None = Field(None, gt=0, description="Training steps of each candidate from the "
                                      "rewind point before it is scored on dev.")
    retrain_epochs: float | None = Field(None, gt=0.0, description="Or: passes over the task's training data.")

    @model_validator(mode="after")
    def _check(self) -> "OneShotConfig":
        _one_of(self, "train_steps", "train_epochs")
        _one_of(self, "retrain_steps", "retrain_epochs")
        return self

    def estimated_steps(self, batches: dict[str, int]) -> int:
        return self.warmup_steps + sum(_budget(self.train_steps, self.train_epochs, b) + len(self.kept_fractions)
                                       * _budget(self.retrain_steps, self.retrain_epochs, b) for b in batches.values())


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


def gradual_targets(config: GradualConfig, budget: int) -> list[tuple[int, float, int | None]]:
    """The plan of a gradual run: per prune step, (step, kept fraction to prune to, candidate index
    reached there or None). A prune never passes the next candidate, so each is reached exactly."""
    start, end, steps = prune_steps(config, budget)
    candidates = config.kept_fractions
    final = candidates[-1]
    plan, kept, next_candidate = [], 1.0, 0
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


def prune_to(weights: Masks, mask: Masks, kept_fraction: float, scope: str) -> Masks:
    """``mask`` pruned by magnitude until ``kept_fraction`` of all its entries are kept (the
    pruners' exact counts and tie rule); unchanged when it keeps no more than that already."""
    total = sum(m.numel() for m in mask.values())
    kept = sum(int(m.sum()) for m in mask.values())
    rate = 1.0 - kept_fraction * total / kept
    if rate <= 0.0:
        return {n: m.clone() for n, m in mask.items()}
    return MagnitudePruner(MagnitudePrunerConfig(type="magnitude", rate=rate, scope=scope)).prune(weights, mask)


# --------------------------------------------------------------------------- gradual
class _GradualPruning(Callback):
    """Prunes on the plan's steps; scores and records a candidate before its mask shrinks further."""

    def __init__(self, plan: list[tuple[int, float, int | None]], record: Callable[[Any, int], None],
                 set_mask: Callable[[float], None], first_candidate: int | None) -> None:
        self.plan = {step: (kept, candidate) for step, kept, candidate in plan}
        self.record = record
        self.set_mask = set_mask
        self.pending = first_candidate  # the candidate the current mask is, not yet scored

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None:
        if trainer.step not in self.plan:
            return
        kept, candidate = self.plan[trainer.step]
        if self.pending is not None:
            self.record(trainer, self.pending)
        self.set_mask(kept)
        self.pending = candidate

    def on_train_end(self, trainer: Any) -> None:
        if self.pending is not None:
            self.record(trainer, self.pending)
            self.pending = None


def gradual_task(config: GradualConfig, experiment: Any, paths: SearchPaths, task: str) -> list[dict]:
    records = _records(paths, task, len(config.kept_fractions))
    if records is not None:
        return records
    model, data = experiment.model, {task: _without_test(experiment.data[task])}
    budget = config.budget(_batches(experiment, task))
    plan = gradual_targets(config, budget)
    state = rewind_point(experiment, paths, config)
    mask = MaskSet.all_ones(model.sharing.prunable_weights(task), experiment.tasks)
    seed_everything(_round_seed(experiment.config.seed, task, 0))
    rewind(model, state, mask)
    started = time.monotonic()
    current = {"mask": mask}
    records: list[dict] = []

    def set_mask(kept: float) -> None:
        weights = {n: w.detach() for n, w in model.sharing.prunable_weights(task).items()}
        current["mask"] = _with_task_mask(current["mask"], task, prune_to(weights, current["mask"][task], kept,
                                                                            config.scope))
        model.sharing.set_masks(current["mask"])

    def record(trainer: Any, candidate: int) -> None:
        dev = trainer.evaluate_task(task, "dev")["score"]
        records.append(_write_candidate(paths, task, candidate, current["mask"], dev, trainer.step, started))

    first = 0 if config.kept_fractions[0] == 1.0 else None
    trainer = Trainer(experiment.config, model, data, experiment.vocab, RunPaths(paths.task_dir(task)),
                      [*_progress_callbacks(experiment.config), _GradualPruning(plan, record, set_mask, first)],
                      [task], max_steps=budget)
    trainer.num_epochs = math.ceil(budget / trainer.steps_per_epoch)
    trainer.train()
    return records


# -------------------------------------------------------------------------- one-shot
def one_shot_task(config: OneShotConfig, experiment: Any, paths: SearchPaths, task: str) -> list[dict]:
    model, data = experiment.model, {task: _without_test(experiment.data[task])}
    batches = _batches(experiment, task)
    state = rewind_point(experiment, paths, config)
    dense = MaskSet.all_ones(model.sharing.prunable_weights(task), experiment.tasks)
    dense_path = paths.task_dir(task) / "dense.pt"
    if not dense_path.is_file():
        seed_everything(_round_seed(experiment.config.seed, task, 0))
        rewind(model, state, dense)
        _train(experiment, model, data, paths, task, _budget(config.train_steps, config.train_epochs, batches))
        save_torch(dense_path, {n: w.detach().clone() for n, w in model.sharing.prunable_weights(task).items()})
        logger.info("one-shot %s: dense training done", task)
    trained = load_torch(dense_path)
    dense_steps = _budget(config.train_steps, config.train_epochs, batches)
    records = []
    for k, kept in enumerate(config.kept_fractions):
        if paths.round_record(task, k).is_file() and paths.round_masks(task, k).is_file():
            records.append(json.loads(paths.round_record(task, k).read_text()))
            continue
        started = time.monotonic()
        mask = _with_task_mask(dense, task, prune_to(trained, dense[task], kept, config.scope))
        seed_everything(_round_seed(experiment.config.seed, task, k + 1))
        rewind(model, state, mask)
        trainer = _train(experiment, model, data, paths, task,
                         _budget(config.retrain_steps, config.retrain_epochs, batches))
        dev = trainer.history[-1]["tasks"][task]["dev"]["score"]
        records.append(_write_candidate(paths, task, k, mask, dev, trainer.step, started))
    for record in records:
        record["dense_steps"] = dense_steps
    return records


# ----------------------------------------------------------------------------- shared
def _batches(experiment: Any, task: str) -> int:
    return math.ceil(len(experiment.data[task].instances["train"]) / experiment.config.trainer.batch_size)


def _train(experiment: Any, model: Any, data: dict, paths: SearchPaths, task: str, steps: int) -> Trainer:
    trainer = Trainer(experiment.config, model, data, experiment.vocab, RunPaths(paths.task_dir(task)),
                      _progress_callbacks(experiment.config), [task], max_steps=steps)
    trainer.num_epochs = math.ceil(steps / trainer.steps_per_epoch)
    trainer.train()
    return trainer


def _write_candidate(paths: SearchPaths, task: str, k: int, mask: MaskSet, dev: float, steps: int,
                     started: float) -> dict:
    record = {"task": task, "round": k, "kept_fraction": mask.kept_fraction(task), "dev_score": dev,
              "steps": steps, "seconds": round(time.monotonic() - started, 1)}
    save_torch(paths.round_masks(task, k), {"mask": {n: m.clone() for n, m in mask[task].items()}})
    write_json(paths.round_record(task, k), record)
    logger.info("mask candidate %s %d: kept %.2f%%, dev %.2f", task, k, 100 * record["kept_fraction"], dev)
    return record


def _records(paths: SearchPaths, task: str, count: int) -> list[dict] | None:
    """Every candidate's record when all are on disk, else None (the task's run is redone)."""
    files = [paths.round_record(task, k) for k in range(count)]
    if all(f.is_file() and paths.round_masks(task, k).is_file() for k, f in enumerate(files)):
        return [json.loads(f.read_text()) for f in files]
    return None


_TASK_RUNNERS: dict[str, Callable[[Any, Any, SearchPaths, str], list[dict]]] = {
    "gradual": gradual_task, "one_shot": one_shot_task,
}


def source_task(run_dir: str, task: str, include_packages: Sequence[str], threads: int | None) -> dict:
    """One task of a gradual or one-shot source; runs in a worker process or in the main one."""
    from sparse_sharing.registry import import_plugins
    from sparse_sharing.training.pipeline import attach_log, load_run_experiment

    import_plugins(include_packages)
    experiment, run_paths = load_run_experiment(Path(run_dir), threads=threads)
    attach_log(run_paths)
    config = experiment.config.masks
    return {"task": task, "rounds": _TASK_RUNNERS[config.type](config, experiment, SearchPaths(Path(run_dir)), task)}


def _run_sources(config: CandidateSourceConfig, experiment: Any, run_dir: Path, include_packages: Sequence[str],
                 jobs: int | None) -> tuple[MaskSet, dict]:
    tasks = experiment.tasks
    paths = SearchPaths(run_dir)
    rewind_point(experiment, paths, config)  # made once, before any worker starts
    jobs = min(jobs or config.jobs, len(tasks))
    arguments = [(str(run_dir), task, tuple(include_packages), 1 if jobs > 1 else None) for task in tasks]
    if jobs > 1:
        pool = get_context("spawn").Pool(jobs)
        try:
            results = pool.starmap(source_task, arguments)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    else:
        results = [source_task(*a) for a in arguments]
    chosen: dict[str, Masks] = {}
    reports: dict[str, dict] = {}
    for result in results:
        task, records = result["task"], result["rounds"]
        best = choose_round(records, config)
        chosen[task] = load_torch(paths.round_masks(task, best["round"]))["mask"]
        reports[task] = {"round": best["round"], "dev_score": best["dev_score"], "source": config.type,
                         "selection": config.selection.model_dump(), "rounds": records,
                         "search_steps": _cost(config, records), "warmup_steps": config.warmup_steps,
                         "search": config.model_dump()}
    return MaskSet(chosen), reports


def _cost(config: CandidateSourceConfig, records: list[dict]) -> int:
    """Training steps spent on the task: gradual's one run; one-shot's dense run and every retraining."""
    if isinstance(config, GradualConfig):
        return max(r["steps"] for r in records) if records else 0
    return records[0]["dense_steps"] + sum(r["steps"] for r in records)


def _build(config: CandidateSourceConfig, experiment: Any, run_dir: Path, include_packages: Sequence[str],
           jobs: int | None) -> tuple[MaskSet, dict]:
    """The random state is left as it was, as with `search`: joint training draws the same numbers
    whether the source ran here, in workers, resumed or not at all."""
    with _random_state_kept():
        return _run_sources(config, experiment, run_dir, include_packages, jobs)


@MASKS.register("gradual", config=GradualConfig)
def gradual_masks(config: GradualConfig, *, experiment: Any, run_dir: Path, include_packages: Sequence[str] = (),
                  jobs: int | None = None) -> tuple[MaskSet, dict]:
    """Gradual magnitude pruning (Zhu & Gupta 2017): one run per task on the cubic schedule."""
    return _build(config, experiment, run_dir, include_packages, jobs)


@MASKS.register("one_shot", config=OneShotConfig)
def one_shot_masks(config: OneShotConfig, *, experiment: Any, run_dir: Path, include_packages: Sequence[str] = (),
                   jobs: int | None = None) -> tuple[MaskSet, dict]:
    """Train dense once, prune once to each candidate, retrain each briefly from the rewind point."""
    return _build(config, experiment, run_dir, include_packages, jobs)
