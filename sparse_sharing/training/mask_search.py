"""Per-task mask search by iterative magnitude pruning (IMP), with an optional multi-task warm-up.

Stages, each skipped when its artifact exists (so `--resume` never redoes finished work):

    mask_search/init.pt              θ0, the weights the model was built with
    mask_search/warmup.pt            θw, after `warmup_steps` of hard sharing over all tasks
    mask_search/<task>/round_<k>.pt  the mask round k trained with and the mask pruning produced
    mask_search/<task>/round_<k>.json  its kept fraction and dev score
    masks/<task>.pt, <task>.json     the chosen mask and its report

Round k of a task: rewind every weight to the rewind point (θw, or θ0 without warm-up), train
the task alone on M_k ⊙ θ for the round's budget with the same loop as every other run,
score dev, then prune the trained weights to get M_{k+1}. Round 0 is the dense network.
Tasks are independent, so they can run in parallel processes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from sparse_sharing.components.masks.mask_set import MaskSet
from sparse_sharing.components.masks.sources import BestDev, FixedRound, MaskSearchConfig
from sparse_sharing.components.sharing.hard import HardSharingConfig
from sparse_sharing.registry import CALLBACKS, MASKS, PRUNERS
from sparse_sharing.training.data_setup import TaskData
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.files import load_torch, save_torch, write_json
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.trainer import Trainer, seed_everything

logger = logging.getLogger(__name__)


def _progress_callbacks(config: Any) -> list:
    return [CALLBACKS.build(c) for c in config.trainer.callbacks if c.type == "progress_bar"]


def _without_test(data: TaskData) -> TaskData:
    """Search rounds never look at test data: their scores choose masks."""
    return TaskData(data.reader, {s: v for s, v in data.sentences.items() if s != "test"},
                    {s: v for s, v in data.instances.items() if s != "test"})


def rewind_point(experiment: Any, paths: RunPaths, search: MaskSearchConfig) -> dict[str, torch.Tensor]:
    """θ0, or θw after the multi-task warm-up; computed once, then read back."""
    if not paths.init_weights.is_file():
        save_torch(paths.init_weights, experiment.model.state_dict())
    if search.warmup_steps == 0:
        return load_torch(paths.init_weights)
    if not paths.warmup_weights.is_file():
        logger.info("multi-task warm-up: %d steps of hard sharing over %s", search.warmup_steps,
                    ", ".join(experiment.tasks))
        config = experiment.config
        hard_config = config.model_copy(update={"model": config.model.model_copy(
            update={"sharing": HardSharingConfig(type="hard")})})
        schemes = {t: d.tag_scheme for t, d in experiment.data.items()}
        hard = build_model(hard_config, experiment.vocab, experiment.tasks, schemes)
        _load_matching(hard, load_torch(paths.init_weights))
        data = {t: _without_test(d) for t, d in experiment.data.items()}
        trainer = Trainer(hard_config, hard, data, experiment.vocab, paths.warmup_run,
                          _progress_callbacks(config), experiment.tasks, max_steps=search.warmup_steps)
        trainer.num_epochs = math.ceil(search.warmup_steps / trainer.steps_per_epoch)
        trainer.train()
        save_torch(paths.warmup_weights, hard.state_dict())
    return load_torch(paths.warmup_weights)


def _load_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load weights saved by a model of another strategy with the same parameter names (hard ↔ sparse)."""
    result = model.load_state_dict(state, strict=False)
    unexpected_weights = [k for k in result.unexpected_keys if ".masks." not in f".{k}"]
    missing_weights = [k for k in result.missing_keys if ".masks." not in f".{k}"]
    if unexpected_weights or missing_weights:
        raise RuntimeError(f"rewind state does not fit the model: missing {missing_weights}, "
                           f"unexpected {unexpected_weights}")


def rewind(model: MultiTaskTagger, state: dict[str, torch.Tensor], masks: MaskSet) -> None:
    _load_matching(model, state)
    model.sharing.set_masks(masks)


def search_task(run_dir: str, task: str, include_packages: Sequence[str], threads: int | None) -> dict:
    """The whole search of one task; runs in a worker process or in the main one."""
    from sparse_sharing.registry import import_plugins
    from sparse_sharing.training.pipeline import attach_log, load_run_experiment

    import_plugins(include_packages)
    experiment, run_paths = load_run_experiment(Path(run_dir), threads=threads)
    attach_log(run_paths)
    search = experiment.config.masks
    paths = RunPaths(Path(run_dir))
    pruner = PRUNERS.build(search.pruner)
    model = experiment.model
    state = rewind_point(experiment, paths, search)  # already made: read back
    mask = MaskSet.all_ones(model.sharing.prunable_weights(task), experiment.tasks)
    data = {task: _without_test(experiment.data[task])}
    records = []
    for k in range(search.num_rounds + 1):
        kept = mask.kept_fraction(task)
        if kept < search.min_kept_fraction:
            break
        record_path, masks_path = paths.round_record(task, k), paths.round_masks(task, k)
        if record_path.is_file() and masks_path.is_file():
            records.append(json.loads(record_path.read_text()))
            mask = _with_task_mask(mask, task, load_torch(masks_path)["next_mask"])
            continue
        started = time.monotonic()
        # Each round draws its own random numbers (dropout), so a round redone on --resume, or run in
        # another process, trains exactly as it did (or would have) in an uninterrupted search.
        seed_everything(_round_seed(experiment.config.seed, task, k))
        rewind(model, state, mask)
        trainer = Trainer(experiment.config, model, data, experiment.vocab, paths.task_search(task),
                          _progress_callbacks(experiment.config), [task], max_steps=_round_steps(search, data[task],
                                                                                                 experiment.config))
        trainer.num_epochs = math.ceil(trainer.max_steps / trainer.steps_per_epoch)
        trainer.train()
        dev = trainer.history[-1]["tasks"][task]["dev"]["score"]
        trained = {n: w.detach().clone() for n, w in model.sharing.prunable_weights(task).items()}
        next_mask = pruner.prune(trained, mask[task])
        record = {"task": task, "round": k, "kept_fraction": kept, "dev_score": dev, "steps": trainer.step,
                  "seconds": round(time.monotonic() - started, 1)}
        save_torch(masks_path, {"mask": mask[task], "next_mask": next_mask})
        write_json(record_path, record)
        logger.info("mask search %s round %d: kept %.2f%%, dev %.2f", task, k, 100 * kept, dev)
        records.append(record)
        mask = _with_task_mask(mask, task, next_mask)
    return {"task": task, "rounds": records}


def _round_seed(seed: int, task: str, k: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{task}/{k}".encode()).digest()[:4], "little")


@contextmanager
def _random_state_kept() -> Iterator[None]:
    """The caller's random state afterwards is what it was before, however much of a search ran here."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def _with_task_mask(mask: MaskSet, task: str, tensors: dict[str, torch.Tensor]) -> MaskSet:
    return MaskSet({t: (tensors if t == task else mask[t]) for t in mask.tasks})


def _round_steps(search: MaskSearchConfig, data: TaskData, config: Any) -> int:
    if search.steps_per_round is not None:
        return search.steps_per_round
    batches = math.ceil(len(data.instances["train"]) / config.trainer.batch_size)
    return max(1, round(search.epochs_per_round * batches))


def choose_round(records: list[dict], search: MaskSearchConfig) -> dict:
    selection = search.selection
    if isinstance(selection, BestDev):
        # Best dev score; on ties the sparser mask (the later round).
        return max(records, key=lambda r: (r["dev_score"], r["round"]))
    if isinstance(selection, FixedRound):
        matches = [r for r in records if r["round"] == selection.round]
        if not matches:
            raise ValueError(f"selection round {selection.round} was not run (rounds 0–{records[-1]['round']})")
        return matches[0]
    return min(records, key=lambda r: (abs(r["kept_fraction"] - selection.kept_fraction), -r["round"]))


@MASKS.register("search", config=MaskSearchConfig)
def search_masks(search: MaskSearchConfig, *, experiment: Any, run_dir: Path,
                 include_packages: Sequence[str] = (), jobs: int | None = None) -> tuple[MaskSet, dict]:
    """Search every task (in parallel processes when jobs > 1), then choose one round per task.

    The random state is left as it was, so joint training draws the same numbers whether the
    search ran in this process, in workers, partly (resumed) or not at all (masks from a file).
    """
    with _random_state_kept():
        return _search_masks(search, experiment, run_dir, include_packages, jobs)


def _search_masks(search: MaskSearchConfig, experiment: Any, run_dir: Path, include_packages: Sequence[str],
                  jobs: int | None) -> tuple[MaskSet, dict]:
    tasks = experiment.tasks
    paths = RunPaths(run_dir)
    # θ0 and θw are made once, before any worker starts, so every task rewinds to the same point.
    rewind_point(experiment, paths, search)
    jobs = min(jobs or search.jobs, len(tasks))
    arguments = [(str(run_dir), task, tuple(include_packages), 1 if jobs > 1 else None) for task in tasks]
    if jobs > 1:
        # A multiprocessing pool, not an executor: on an interrupt its workers are terminated at once
        # (finished rounds are on disk; --resume redoes only the rounds that were running).
        pool = get_context("spawn").Pool(jobs)
        try:
            results = pool.starmap(search_task, arguments)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    else:
        results = [search_task(*a) for a in arguments]
    chosen: dict[str, dict[str, torch.Tensor]] = {}
    reports: dict[str, dict] = {}
    for result in results:
        task, records = result["task"], result["rounds"]
        best = choose_round(records, search)
        chosen[task] = load_torch(paths.round_masks(task, best["round"]))["mask"]
        reports[task] = {"round": best["round"], "dev_score": best["dev_score"],
                         "selection": search.selection.model_dump(), "rounds": records,
                         "search": search.model_dump()}
    return MaskSet(chosen), reports
