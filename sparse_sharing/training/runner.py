"""A run, stage by stage, in the manner of open_lth's runner: one object, one method a stage,
each returning early when its artifact is on disk, so ``--resume`` redoes only what is missing.

    warm_up()          mask_search/init.pt (θ0), mask_search/warmup.pt (θw after the warm-up)
    search_task(task)  that task's work, by the mask source (a search: mask_search/<task>/round_<k>.*)
    select()           masks/<task>.pt and .json: each task's chosen mask
    train_jointly()    checkpoints/, metrics.json: the joint training every strategy runs

The first three run only for a strategy with masks (``sparse``, ``single_subnet``). The mask
source decides what a task's mask is; the runner owns the training it asks for
(``SearchContext``), so a new source is one registered class. With ``jobs`` > 1 tasks are
searched in worker processes (``training.workers``), each given the validated config and its
task's data.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from sparse_sharing.components.callbacks.tensorboard import write_search_rounds
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.masks.candidates import REDO_STAGE, recorded_search_seconds
from sparse_sharing.components.masks.mask_set import MaskSet, all_kept, read_mask_report
from sparse_sharing.components.masks.source import Mask, MaskSource, TrainedMask
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import RunDirError, UserError
from sparse_sharing.files import first_line, load_torch, load_weights, save_torch, write_json
from sparse_sharing.logs import detach_log_file, log_to_file, show_records_of
from sparse_sharing.paths import RunPaths
from sparse_sharing.random_state import random_state_kept, seed_everything
from sparse_sharing.registry import CALLBACKS, MASK_SOURCES, SHARING, import_plugins
from sparse_sharing.training.data_setup import TaskData
from sparse_sharing.training.dev_best import DevBestWeights
from sparse_sharing.training.experiment import Experiment, every_component, masks_config, read_run_json
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.training.trainer import Trainer
from sparse_sharing.training.workers import component_loggers, run_in_workers

logger = logging.getLogger(__name__)


class ExperimentRunner:
    def __init__(self, experiment: Experiment, paths: RunPaths, *, raw_config: dict[str, Any] | None = None,
                 resume: bool = False, include_packages: Sequence[str] = ()) -> None:
        """``raw_config`` is what config.json records (None in a worker, which runs one stage);
        ``include_packages`` are imported again in worker processes."""
        self.experiment = experiment
        self.paths = paths
        self.raw_config = raw_config
        self.resume = resume
        self.include_packages = tuple(include_packages)
        self.source = self._mask_source()
        self.jobs = min(self.source.jobs, len(experiment.tasks)) if self.source else 1
        self.loggers = self.run_loggers()  # workers are given them too
        show_records_of(self.loggers)

    def _mask_source(self) -> MaskSource | None:
        config = masks_config(self.experiment)
        if config is None:
            if self.experiment.config.masks is not None:
                logger.info("the masks block is unused: sharing '%s' has no masks",
                            self.experiment.config.model.sharing.type)
            return None
        return MASK_SOURCES.build(config)

    def run(self) -> dict[str, Any]:
        if not self.resume:  # config.json last: its presence marks a run that can be resumed
            write_json(self.paths.vocabulary, self.experiment.vocab.to_json())
            write_json(self.paths.config, self.raw_config)
        extra_metrics = {}
        if self.source is not None:
            # The caller's random state is kept, so joint training draws the same numbers whether the
            # search ran here, in workers, partly (resumed) or not at all (masks from a file).
            try:
                with random_state_kept():
                    self.warm_up()
                    masks = self.select()
                extra_metrics["masks"] = self.start_joint_training_from_rewind_point(masks)
            except UserError:
                if not self.resume:  # e.g. `from_run` names a run without masks: nothing here is worth keeping
                    detach_log_file(self.paths.log)
                    shutil.rmtree(self.paths.root, ignore_errors=True)
                raise
        return self.train_jointly(extra_metrics)

    # ------------------------------------------------------------------ stages
    def warm_up(self) -> None:
        """θ0, and θw after ``warmup_steps`` of hard sharing over all tasks: made once, before any
        task's search (and any worker) starts, so every task rewinds to the same point."""
        if not self.source.needs_rewind_point:
            return
        experiment, paths = self.experiment, self.paths
        if not paths.init_weights.is_file():
            save_torch(paths.init_weights, experiment.model.state_dict())
        steps = self.source.warmup_steps
        if steps == 0 or paths.warmup_weights.is_file():
            return
        logger.info("multi-task warm-up: %d steps of hard sharing over %s", steps, ", ".join(experiment.tasks))
        config = experiment.config
        hard_config = config.model_copy(update={"model": config.model.model_copy(
            update={"sharing": SHARING.get("hard").config(type="hard")})})
        hard = build_model(hard_config, experiment.vocab, experiment.tasks, experiment.tag_schemes).to(experiment.device)
        load_weights(hard, load_torch(paths.init_weights, advice=REDO_STAGE), paths.init_weights,
                     lambda state: load_matching(hard, state))
        data = {t: without_test(d) for t, d in experiment.data.items()}
        Trainer(hard_config, hard, data, experiment.vocab, paths.warmup_run,
                progress_callbacks(config, tensorboard=True), experiment.tasks, device=experiment.device, max_steps=steps,
                stage="warm-up").train()
        save_torch(paths.warmup_weights, hard.state_dict())

    def search_task(self, task: str) -> tuple[Mask, dict[str, Any]]:
        """One task's mask and report, in this process; the source skips the work already on disk."""
        mask, report = self.source.find(task, SearchContext(self.experiment, self.paths, *self.rewind_point()))
        records = report.get("rounds", [])
        if records and any(c.type == "tensorboard" for c in self.experiment.config.trainer.callbacks):
            write_search_rounds(self.paths.search_board(task), task, records)
        return mask, report

    def select(self) -> MaskSet:
        """Each task's chosen mask, found (in ``jobs`` processes) unless masks/ already holds them all."""
        experiment, paths = self.experiment, self.paths
        if all(paths.mask(t).is_file() for t in experiment.tasks):
            logger.info("masks already chosen: read from %s", paths.masks)
            return MaskSet.load(paths.root, experiment.model.sharing.mask_shapes(), tasks=experiment.tasks)
        logger.info("mask source '%s': %d task(s) at a time", experiment.config.masks.type, self.jobs)
        if self.jobs > 1:
            found = dict(zip(experiment.tasks, self._search_in_workers()))
        else:
            found = {task: self.search_task(task) for task in experiment.tasks}
        masks = MaskSet({task: mask for task, (mask, _) in found.items()})
        warmup = {"warmup_seconds": warmup_seconds(paths)}  # a source's own (from_run: the other run's) comes first
        masks.save(paths.root, {task: {**warmup, **report} for task, (_, report) in found.items()})
        return masks

    def start_joint_training_from_rewind_point(self, masks: MaskSet) -> dict[str, Any]:
        """Rewind to θw (or θ0) where the run has one and set the masks; the masks' figures and the search's
        cost (from the mask reports, so a resumed run or masks taken from another run report it too)
        for metrics.json."""
        paths = self.paths
        start = paths.warmup_weights if paths.warmup_weights.is_file() else paths.init_weights
        if start.is_file():
            model = self.experiment.model
            load_weights(model, load_torch(start, advice=REDO_STAGE), start, lambda state: rewind(model, state, masks))
        else:
            self.experiment.model.sharing.set_masks(masks)
        figures = masks.summary()
        logger.info("masks: %s; overlap ratio %.4f", ", ".join(
            f"{t} kept {100 * f:.2f}%" for t, f in figures["kept_fraction"].items()), figures["overlap_ratio"])
        reports = {t: read_mask_report(paths.root, t) for t in self.experiment.tasks}
        return {**figures, "jobs": self.jobs, **search_cost(reports)}

    def train_jointly(self, extra_metrics: dict[str, Any]) -> dict[str, Any]:
        """All tasks together, from the last epoch checkpoint when resuming."""
        experiment, paths = self.experiment, self.paths
        config = experiment.config
        trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, paths, joint_callbacks(config),
                          experiment.tasks, device=experiment.device, extra_metrics=extra_metrics, stage="train")
        if self.resume and paths.last_checkpoint.is_file():
            restore_trainer(trainer, paths.last_checkpoint)
            logger.info("resumed after epoch %d (step %d)", trainer.epoch, trainer.step)
            if trainer.epoch > trainer.num_epochs:
                raise RunDirError(f"cannot resume {paths.root} with trainer.num_epochs={trainer.num_epochs}: it "
                                  f"has completed {trainer.epoch} epochs already")
        if self.resume:  # a changed num_epochs, num_threads or device, once the state has loaded
            if trainer.epoch < trainer.num_epochs:
                reopen_metrics(paths)
            write_json(paths.config, self.raw_config)
        return trainer.train()

    # ------------------------------------------------------------ helpers
    def rewind_point(self) -> tuple[dict[str, torch.Tensor] | None, Path | None]:
        """θw after a warm-up, else θ0, and its file; None for a source that trains nothing."""
        if not self.source.needs_rewind_point:
            return None, None
        path = self.paths.warmup_weights if self.source.warmup_steps else self.paths.init_weights
        return load_torch(path, advice=REDO_STAGE), path

    def run_loggers(self) -> tuple[str, ...]:
        """Where the run's components log (every one its config names, and the mask source): shown
        on the terminal and in the run's log, from this process or a worker, plugins' as the
        built-ins'."""
        factories = [registry.get(getattr(config, registry.tag)).factory
                     for registry, config in every_component(self.experiment.config)]
        return (__name__, *component_loggers(*([self.source] if self.source else []), *factories))

    def _search_in_workers(self) -> list[tuple[Mask, dict[str, Any]]]:
        experiment = self.experiment
        jobs = [SearchJob(config=experiment.config.model_dump(), vocab=experiment.vocab.to_json(),
                          tasks=experiment.tasks, tag_schemes=experiment.tag_schemes, task=task,
                          data=without_test(experiment.data[task]), device=experiment.device, run_dir=self.paths.root,
                          include_packages=self.include_packages) for task in experiment.tasks]
        return run_in_workers(search_in_worker, jobs, self.jobs, self.loggers)


def reopen_metrics(paths: RunPaths) -> None:
    """A run extended by a raised `trainer.num_epochs` is not finished until it trains to its new
    end: metrics.json says so before config.json names that end, so no reader (`ssl sweep`, which
    counts a run whose saved config is the planned one and whose metrics say finished as done)
    sees the new config beside the old "finished" and skips the extension, stopped before its
    first new evaluation, at the old number of epochs."""
    if not paths.metrics.is_file():  # stopped before its first evaluation: nothing says finished
        return
    metrics = read_run_json(paths.metrics)  # a damaged file: one clear message, not a traceback
    if metrics.get("finished"):
        write_json(paths.metrics, {**metrics, "finished": False})


class SearchContext:
    """What a mask source may ask of the run (``MaskContext``): train one task under a mask."""

    def __init__(self, experiment: Experiment, paths: RunPaths, rewind_state: dict[str, torch.Tensor] | None,
                 rewind_path: Path | None = None) -> None:
        self.experiment = experiment
        self.paths = paths
        self.seed = experiment.config.seed
        self.rewind_state = rewind_state
        self.rewind_path = rewind_path

    def mask_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.experiment.model.sharing.mask_shapes()

    def batches_per_epoch(self, task: str) -> int:
        return math.ceil(len(self.experiment.data[task].instances["train"]) / self.experiment.config.trainer.batch_size)

    def train(self, task: str, mask: Mask, steps: int, seed: int, callbacks: Sequence[Any] = (),
              stage: str | None = None) -> TrainedMask:
        experiment = self.experiment
        if self.rewind_state is None:
            raise RuntimeError("this mask source declared needs_rewind_point = False, so it cannot train")
        model = experiment.model
        seed_everything(seed)
        shapes = self.mask_shapes()
        masks = MaskSet({t: (mask if t == task else all_kept(shapes)) for t in experiment.tasks})
        load_weights(model, self.rewind_state, self.rewind_path or self.paths.init_weights,
                     lambda state: rewind(model, state, masks))
        best = DevBestWeights(task)
        trainer = Trainer(experiment.config, model, {task: without_test(experiment.data[task])}, experiment.vocab,
                          self.paths.task_search(task), [*progress_callbacks(experiment.config), *callbacks, best],
                          [task], device=experiment.device, max_steps=steps, stage=stage or f"mask search {task}",
                          log_evaluations=False)
        trainer.train()
        return TrainedMask(trainer.best[task]["dev"], trainer.step, best.weights)


@dataclass(frozen=True)
class SearchJob:
    """A worker's whole input: the validated config (dumped: its classes are built at run time and do
    not pickle), the vocabulary, the one task's data and the device the parent resolved; nothing is
    read again from disk but the rewind point and the task's finished rounds."""

    config: dict[str, Any]
    vocab: dict[str, Any]
    tasks: list[str]
    tag_schemes: dict[str, str]
    task: str
    data: TaskData
    device: torch.device
    run_dir: Path
    include_packages: tuple[str, ...]


def search_in_worker(job: SearchJob) -> tuple[Mask, dict[str, Any]]:
    """A worker process's entry point: one torch thread, the run's plugins and log, one task's search."""
    torch.set_num_threads(1)
    import_plugins(job.include_packages)
    paths = RunPaths(job.run_dir)
    log_to_file(paths.log)
    config = validate_experiment(job.config)
    vocab = Vocabulary.from_json(job.vocab)
    model = build_model(config, vocab, job.tasks, job.tag_schemes).to(job.device)
    experiment = Experiment(config, job.tasks, {job.task: job.data}, vocab, model, job.device)
    return ExperimentRunner(experiment, paths).search_task(job.task)


def restore_trainer(trainer: Trainer, checkpoint: Path) -> None:
    """The whole training state from ``last.pt``; a file of another model or version is the user's to fix."""
    state = load_torch(checkpoint)
    try:
        trainer.load_state_dict(state)
    except KeyError as missing:
        raise RunDirError(f"cannot resume from {checkpoint}: it has no {missing} entry; it was "
                          f"written by another version of sparse-sharing") from None
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError) as error:
        raise RunDirError(f"cannot resume from {checkpoint}: it does not fit this run's model and optimizers "
                          f"({first_line(error)}); delete it to restart joint training, or resume the run it "
                          f"came from") from None


def search_cost(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per task the source, its training steps (``search_steps``) and wall time (``search_seconds``,
    each source's own count: ``recorded_search_seconds``), and the shared warm-up's steps and seconds,
    as the mask reports record them (None where a report predates them), so masks taken `from_run`
    report what they cost there."""
    first = next(iter(reports.values()))
    return {"source": {t: r.get("source") for t, r in reports.items()},
            "search_steps": {t: r.get("search_steps") for t, r in reports.items()},
            "search_seconds": {t: recorded_search_seconds(r) for t, r in reports.items()},
            "warmup_steps": first.get("warmup_steps"), "warmup_seconds": first.get("warmup_seconds")}


def warmup_seconds(paths: RunPaths) -> float | None:
    """The warm-up's wall time, from its own metrics.json; None for a run that did none."""
    try:
        return json.loads(paths.warmup_run.metrics.read_text(encoding="utf-8"))["training_seconds"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def joint_callbacks(config: Any) -> list:
    """The config's callbacks, and a checkpoint callback where it names none: joint training can always resume."""
    callbacks = [CALLBACKS.build(c) for c in config.trainer.callbacks]
    if not any(c.type == "checkpoint" for c in config.trainer.callbacks):
        callbacks.append(CALLBACKS.build(CALLBACKS.get("checkpoint").config(type="checkpoint")))
    return callbacks


def progress_callbacks(config: Any, tensorboard: bool = False) -> list:
    """The config's progress bar (and, for the warm-up, its TensorBoard callback): search rounds
    write no checkpoints; their TensorBoard record is one point per round (``write_search_rounds``)."""
    kinds = {"progress_bar", "tensorboard"} if tensorboard else {"progress_bar"}
    return [CALLBACKS.build(c) for c in config.trainer.callbacks if c.type in kinds]


def without_test(data: TaskData) -> TaskData:
    """Search rounds and the warm-up never look at test data: their scores choose masks."""
    return TaskData(data.reader, {s: v for s, v in data.sentences.items() if s != "test"},
                    {s: v for s, v in data.instances.items() if s != "test"})


def load_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load weights saved by a model of another strategy with the same parameter names (hard ↔ sparse)."""
    result = model.load_state_dict(state, strict=False)
    unexpected_weights = [k for k in result.unexpected_keys if ".masks." not in f".{k}"]
    missing_weights = [k for k in result.missing_keys if ".masks." not in f".{k}"]
    if unexpected_weights or missing_weights:
        raise RuntimeError(f"rewind state does not fit the model: missing {missing_weights}, "
                           f"unexpected {unexpected_weights}")


def rewind(model: MultiTaskTagger, state: dict[str, torch.Tensor], masks: MaskSet) -> None:
    load_matching(model, state)
    model.sharing.set_masks(masks)

