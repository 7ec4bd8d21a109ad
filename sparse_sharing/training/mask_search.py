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
import os
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from sparse_sharing.components.callbacks.progress import WorkerBars
from sparse_sharing.components.masks.mask_set import MaskSet
from sparse_sharing.components.masks.sources import BestDev, FixedRound, MaskSearchConfig
from sparse_sharing.components.sharing.hard import HardSharingConfig
from sparse_sharing.errors import RunDirError
from sparse_sharing.registry import CALLBACKS, MASKS, PRUNERS
from sparse_sharing.training.data_setup import TaskData
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.training.run_dir import RunPaths, first_line, load_torch, load_weights, save_torch, write_json
from sparse_sharing.training.trainer import Trainer, seed_everything

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchPaths:
    root: Path

    @property
    def init(self) -> Path:
        return self.root / "mask_search" / "init.pt"

    @property
    def warmup(self) -> Path:
        return self.root / "mask_search" / "warmup.pt"

    def task_dir(self, task: str) -> Path:
        return self.root / "mask_search" / task

    def round_masks(self, task: str, k: int) -> Path:
        return self.task_dir(task) / f"round_{k:02d}.pt"

    def round_record(self, task: str, k: int) -> Path:
        return self.task_dir(task) / f"round_{k:02d}.json"


def _progress_callbacks(config: Any, tensorboard: bool = False) -> list:
    """The config's progress bar (and, for the warm-up, its TensorBoard callback): search rounds
    write no checkpoints; their TensorBoard record is one point per round (``_RoundBoard``)."""
    kinds = {"progress_bar", "tensorboard"} if tensorboard else {"progress_bar"}
    return [CALLBACKS.build(c) for c in config.trainer.callbacks if c.type in kinds]


def _without_test(data: TaskData) -> TaskData:
    """Search rounds never look at test data: their scores choose masks."""
    return TaskData(data.reader, {s: v for s, v in data.sentences.items() if s != "test"},
                    {s: v for s, v in data.instances.items() if s != "test"})


def rewind_point(experiment: Any, paths: SearchPaths, search: MaskSearchConfig) -> dict[str, torch.Tensor]:
    """θ0, or θw after the multi-task warm-up; computed once, then read back."""
    if not paths.init.is_file():
        save_torch(paths.init, experiment.model.state_dict())
    if search.warmup_steps == 0:
        return load_torch(paths.init, advice=_REDO_STAGE)
    if not paths.warmup.is_file():
        logger.info("multi-task warm-up: %d steps of hard sharing over %s", search.warmup_steps,
                    ", ".join(experiment.tasks))
        config = experiment.config
        hard_config = config.model_copy(update={"model": config.model.model_copy(
            update={"sharing": HardSharingConfig(type="hard")})})
        schemes = {t: d.tag_scheme for t, d in experiment.data.items()}
        hard = build_model(hard_config, experiment.vocab, experiment.tasks, schemes)
        load_weights(hard, load_torch(paths.init, advice=_REDO_STAGE), paths.init, lambda s: _load_matching(hard, s))
        data = {t: _without_test(d) for t, d in experiment.data.items()}
        warmup_paths = RunPaths(paths.root / "mask_search" / "warmup",
                                tensorboard_dir=RunPaths(paths.root).tensorboard / "warmup")
        trainer = Trainer(hard_config, hard, data, experiment.vocab, warmup_paths,
                          _progress_callbacks(config, tensorboard=True), experiment.tasks,
                          max_steps=search.warmup_steps, stage="warm-up")
        trainer.num_epochs = math.ceil(search.warmup_steps / trainer.steps_per_epoch)
        trainer.train()
        save_torch(paths.warmup, hard.state_dict())
    return load_torch(paths.warmup, advice=_REDO_STAGE)


_REDO_STAGE = "delete it and resume: the search makes it again"


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
    paths = SearchPaths(Path(run_dir))
    pruner = PRUNERS.build(search.pruner)
    model = experiment.model
    state = rewind_point(experiment, paths, search)  # already made: read back
    mask = MaskSet.all_ones(model.sharing.prunable_weights(task), experiment.tasks)
    data = {task: _without_test(experiment.data[task])}
    board = _RoundBoard(experiment.config, run_paths, task)
    records = []
    for k in range(search.num_rounds + 1):
        kept = mask.kept_fraction(task)
        if kept < search.min_kept_fraction:
            break
        record_path, masks_path = paths.round_record(task, k), paths.round_masks(task, k)
        if record_path.is_file() and masks_path.is_file():
            records.append(_read_record(record_path))
            mask = _with_task_mask(mask, task, read_round_masks(masks_path, mask[task])["next_mask"])
            continue
        started = time.monotonic()
        # Each round draws its own random numbers (dropout), so a round redone on --resume, or run in
        # another process, trains exactly as it did (or would have) in an uninterrupted search.
        seed_everything(_round_seed(experiment.config.seed, task, k))
        load_weights(model, state, paths.warmup if search.warmup_steps else paths.init,
                     lambda s: rewind(model, s, mask))
        trainer = Trainer(experiment.config, model, data, experiment.vocab, RunPaths(paths.task_dir(task)),
                          _progress_callbacks(experiment.config), [task],
                          max_steps=_round_steps(search, data[task], experiment.config),
                          stage=f"mask search {task} round {k}/{search.num_rounds} (kept {100 * kept:.1f}%)",
                          log_evaluations=False)
        trainer.num_epochs = math.ceil(trainer.max_steps / trainer.steps_per_epoch)
        trainer.train()
        dev = trainer.history[-1]["tasks"][task]["dev"]["score"]
        trained = {n: w.detach().clone() for n, w in model.sharing.prunable_weights(task).items()}
        next_mask = pruner.prune(trained, mask[task])
        record = {"task": task, "round": k, "kept_fraction": kept, "dev_score": dev, "steps": trainer.step,
                  "seconds": round(time.monotonic() - started, 1)}
        save_torch(masks_path, {"mask": mask[task], "next_mask": next_mask})
        write_json(record_path, record)
        logger.info("mask search %s round %d/%d: kept %.2f%%, dev %.2f", task, k, search.num_rounds, 100 * kept, dev)
        board.add(record)
        records.append(record)
        mask = _with_task_mask(mask, task, next_mask)
    board.close()
    return {"task": task, "rounds": records}


class _RoundBoard:
    """Each search round's dev score and kept fraction as TensorBoard points (x = round), under
    ``tensorboard/mask_search/<task>``, when the config has a TensorBoard callback."""

    def __init__(self, config: Any, paths: RunPaths, task: str) -> None:
        self.writer = None
        if any(c.type == "tensorboard" for c in config.trainer.callbacks):
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(paths.tensorboard / "mask_search" / task))
        self.task = task

    def add(self, record: dict) -> None:
        if self.writer is not None:
            self.writer.add_scalar(f"mask_search/{self.task}/dev_score", record["dev_score"], record["round"])
            self.writer.add_scalar(f"mask_search/{self.task}/kept_fraction", record["kept_fraction"], record["round"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        for key, kind in (("dev_score", float), ("kept_fraction", float), ("round", int)):
            kind(record[key])  # choose_round compares these: each must be there and be a number
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise RunDirError(f"search round record {path} is damaged ({first_line(error)}); {_REDO_STAGE}") from None
    return record


def read_round_masks(path: Path, like: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """A round file's ``mask`` and ``next_mask``, checked against the task's current mask's names and shapes."""
    stored = load_torch(path, "search round file", advice=_REDO_STAGE)
    try:
        for key in ("mask", "next_mask"):
            tensors = stored[key]
            if set(tensors) != set(like) or any(tensors[n].shape != like[n].shape or tensors[n].dtype != torch.bool
                                                for n in like):
                raise ValueError(f"its {key} does not fit this model's masked tensors")
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise RunDirError(f"search round file {path} does not hold this run's masks ({first_line(error)}); "
                          f"{_REDO_STAGE}") from None
    return stored


def _worker_start(parent: int, workers_started: Any, reports: Any) -> None:
    """A search worker ends when its parent does, even by ``kill -9``: without this it would
    train on, writing into the run directory, until its round ends. It sends its progress bars and
    round lines to the parent, which shows them on the terminal, each worker's bar on its own line."""
    from sparse_sharing.components.callbacks.progress import report_to_parent

    with workers_started.get_lock():
        line = workers_started.value
        workers_started.value += 1
    report_to_parent(reports, line, loggers=(__name__,))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


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
    paths = SearchPaths(run_dir)
    # θ0 and θw are made once, before any worker starts, so every task rewinds to the same point.
    rewind_point(experiment, paths, search)
    jobs = min(jobs or search.jobs, len(tasks))
    arguments = [(str(run_dir), task, tuple(include_packages), 1 if jobs > 1 else None) for task in tasks]
    if jobs > 1:
        # A multiprocessing pool, not an executor: on an interrupt its workers are terminated at once
        # (finished rounds are on disk; --resume redoes only the rounds that were running).
        context = get_context("spawn")
        reports = context.Queue()
        bars = WorkerBars(reports)
        pool = context.Pool(jobs, initializer=_worker_start, initargs=(os.getpid(), context.Value("i", 0), reports))
        try:
            results = pool.starmap(search_task, arguments)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
            bars.close()
    else:
        results = [search_task(*a) for a in arguments]
    chosen: dict[str, dict[str, torch.Tensor]] = {}
    reports: dict[str, dict] = {}
    for result in results:
        task, records = result["task"], result["rounds"]
        best = choose_round(records, search)
        chosen[task] = read_round_masks(paths.round_masks(task, best["round"]),
                                        experiment.model.sharing.prunable_weights(task))["mask"]
        reports[task] = {"round": best["round"], "dev_score": best["dev_score"], "source": "search",
                         "selection": search.selection.model_dump(), "rounds": records,
                         "search_steps": sum(r["steps"] for r in records), "warmup_steps": search.warmup_steps,
                         "search": search.model_dump()}
    return MaskSet(chosen), reports
