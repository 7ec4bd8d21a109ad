"""`ssl train` and `ssl validate` as functions: config → data → vocabulary → model → (masks) → loop."""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.masks.mask_set import MaskSet
from sparse_sharing.config.schema import trained_tasks, validate_experiment
from sparse_sharing.devices import resolve_device
from sparse_sharing.errors import ConfigError, RunDirError
from sparse_sharing.registry import CALLBACKS, MASKS
from sparse_sharing.training.data_setup import TaskData, build_vocabulary, index_tasks, read_tasks
from sparse_sharing.training.mask_search import rewind
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.files import load_torch, write_json
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.run_dir import prepare_run_dir
from sparse_sharing.training.trainer import Trainer, seed_everything

logger = logging.getLogger(__name__)


@dataclass
class Experiment:
    config: Any
    tasks: list[str]
    data: dict[str, TaskData]
    vocab: Vocabulary
    model: MultiTaskTagger
    device: torch.device


def build_experiment(config: Any, vocab: Vocabulary | None = None, threads: int | None = None) -> Experiment:
    device = resolve_device(config.device)  # before any work: a missing GPU is the first thing said
    torch.set_num_threads(threads or config.num_threads)
    seed_everything(config.seed)
    tasks = trained_tasks(config)
    data = read_tasks(config, tasks)
    if vocab is None:
        vocab = build_vocabulary(config, data)
    index_tasks(data, vocab)
    model = build_model(config, vocab, tasks, {t: d.tag_scheme for t, d in data.items()}).to(device)
    return Experiment(config, tasks, data, vocab, model, device)


def uses_masks(model: MultiTaskTagger) -> bool:
    return hasattr(model.sharing, "set_masks")


def train(raw_config: dict, config: Any, run_dir: Path, resume: bool = False, force: bool = False,
          include_packages: Sequence[str] = (), jobs: int | None = None) -> dict:
    paths = prepare_run_dir(run_dir, resume=resume, force=force)
    if resume:
        config = resumed_config(paths, raw_config, config)
    vocab = Vocabulary.load(paths.vocabulary) if resume else None
    try:
        experiment = build_experiment(config, vocab)
    except BaseException:
        if not resume:  # nothing of this run exists yet: leave no directory that blocks a retry
            shutil.rmtree(paths.root, ignore_errors=True)
        raise
    if not resume:  # config.json last: its presence marks a run that can be resumed
        write_json(paths.vocabulary, experiment.vocab.to_json())
        write_json(paths.config, raw_config)
    attach_log(paths)
    logger.info("%s run in %s", "resumed" if resume else "started", paths.root)
    extra_metrics = {}
    if uses_masks(experiment.model):
        extra_metrics = prepare_masks(experiment, paths, include_packages, jobs)
    elif config.masks is not None:
        logger.info("the masks block is unused: sharing '%s' has no masks", config.model.sharing.type)
    callbacks = [CALLBACKS.build(c) for c in config.trainer.callbacks]
    if not any(c.type == "checkpoint" for c in config.trainer.callbacks):
        callbacks.append(CALLBACKS.build(CALLBACKS.get("checkpoint").config(type="checkpoint")))
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, paths, callbacks,
                      experiment.tasks)
    trainer.extra_metrics = extra_metrics
    if resume and paths.last_checkpoint.is_file():
        try:
            trainer.load_state_dict(load_torch(paths.last_checkpoint))
        except KeyError as missing:
            raise RunDirError(f"cannot resume from {paths.last_checkpoint}: it has no {missing} entry; it was "
                              f"written by another version of sparse-sharing") from None
        logger.info("resumed after epoch %d (step %d)", trainer.epoch, trainer.step)
        if trainer.epoch > trainer.num_epochs:
            raise RunDirError(f"cannot resume {paths.root} with trainer.num_epochs={trainer.num_epochs}: it has "
                              f"completed {trainer.epoch} epochs already")
    if resume:  # a changed num_epochs, num_threads or device, once the state has loaded
        write_json(paths.config, raw_config)
    return trainer.train()


def resumed_config(paths: RunPaths, raw_config: dict, config: Any) -> Any:
    """The config a resumed run continues with: the one it started with, except that
    `num_threads` and `device` (properties of the machine) and `trainer.num_epochs` may change. Raising the
    epochs extends a run (the schedules depend on the epoch reached, not on the total, so an
    extended run equals one planned that long); lowering them to the epochs done closes an
    interrupted run as finished."""
    saved_raw = json.loads(paths.config.read_text())
    saved = validate_experiment(saved_raw, source=str(paths.config))
    if saved_raw == raw_config:
        return saved
    before, after = saved.trainer.num_epochs, config.trainer.num_epochs
    saved_dump, new_dump = saved.model_dump(), config.model_dump()
    saved_dump["trainer"]["num_epochs"] = after
    saved_dump["num_threads"] = config.num_threads
    saved_dump["device"] = config.device
    if saved_dump != new_dump:
        raise RunDirError(
            f"cannot resume {paths.root}: the config differs from the one the run started with "
            f"({paths.config}); resume with the same config and overrides (only trainer.num_epochs "
            f", num_threads and device may change), or start a new run"
        )
    logger.info("resuming %s with %d epochs (was %d), %d torch threads, device %s", paths.root, after, before,
                config.num_threads, config.device)
    return config


def prepare_masks(experiment: Experiment, paths: RunPaths, include_packages: Sequence[str],
                  jobs: int | None) -> dict:
    """Find (or reload) each task's mask, rewind to the search's rewind point and set the masks.

    Returns the masks' figures for metrics.json.
    """
    config, sharing = experiment.config, experiment.model.sharing
    if config.masks is None:
        raise ConfigError(f"sharing '{config.model.sharing.type}' needs a `masks` block: "
                          f"{{type: 'search', ...}} or {{type: 'from_run', path: ...}}")
    if all(paths.mask(t).is_file() for t in experiment.tasks):
        masks = MaskSet.load(paths.root, sharing.mask_shapes(), tasks=experiment.tasks)
        logger.info("masks already chosen: read from %s", paths.masks)
    else:
        masks, reports = MASKS.build(config.masks, experiment=experiment, run_dir=paths.root,
                                     include_packages=include_packages, jobs=jobs)
        masks.save(paths.root, reports)
    start = paths.warmup_weights if paths.warmup_weights.is_file() else paths.init_weights
    if start.is_file():
        rewind(experiment.model, load_torch(start), masks)
    else:
        sharing.set_masks(masks)
    figures = mask_figures(masks)
    logger.info("masks: %s; overlap ratio %.4f", ", ".join(
        f"{t} kept {100 * f:.2f}%" for t, f in figures["kept_fraction"].items()), figures["overlap_ratio"])
    return {"masks": figures}


def mask_figures(masks: MaskSet) -> dict:
    return {
        "kept_fraction": {t: masks.kept_fraction(t) for t in masks.tasks},
        "overlap_ratio": masks.overlap_ratio(),
        "pairwise_overlap": {f"{a}-{b}": v for (a, b), v in masks.pairwise_overlaps().items()},
        "union_count": masks.union_count(),
        "masked_total": masks.total_count(),
    }


def attach_log(paths: RunPaths) -> None:
    """Everything the package logs also goes to the run's train.log (once per process)."""
    target = str(paths.log.resolve())
    root = logging.getLogger("sparse_sharing")
    root.setLevel(logging.INFO)
    if any(getattr(h, "baseFilename", None) == target for h in root.handlers):
        return
    handler = logging.FileHandler(paths.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


def load_trained(run_dir: Path) -> tuple[Any, RunPaths, Vocabulary]:
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file() or not paths.vocabulary.is_file():
        raise RunDirError(f"{paths.root} is not a run directory (no config.json or vocabulary.json)")
    config = validate_experiment(json.loads(paths.config.read_text()), source=str(paths.config))
    return config, paths, Vocabulary.load(paths.vocabulary)


def load_run_experiment(run_dir: Path, threads: int | None = None) -> tuple[Experiment, RunPaths]:
    """The experiment of an existing run directory, with its saved config and vocabulary."""
    config, paths, vocab = load_trained(run_dir)
    return build_experiment(config, vocab, threads), paths


def load_best_model(config: Any, paths: RunPaths, vocab: Vocabulary, task: str, tag_schemes: dict[str, str]) -> MultiTaskTagger:
    """The run's model with the weights of the given task's dev-best checkpoint."""
    checkpoint = paths.best_model(task)
    if not checkpoint.is_file():
        raise RunDirError(f"no dev-best checkpoint for task '{task}' in {paths.checkpoints} "
                          f"(did the run finish an evaluation?)")
    model = build_model(config, vocab, trained_tasks(config), tag_schemes)
    model.load_state_dict(load_torch(checkpoint))
    model.eval()
    return model
