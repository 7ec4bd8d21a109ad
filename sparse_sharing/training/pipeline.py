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
from sparse_sharing.components.masks.mask_set import MaskSet, mask_path, read_mask_report
from sparse_sharing.config.schema import trained_tasks, validate_experiment
from sparse_sharing.devices import resolve_device
from sparse_sharing.errors import ConfigError, RunDirError, UserError
from sparse_sharing.registry import CALLBACKS, MASKS
from sparse_sharing.training.data_setup import TaskData, build_vocabulary, index_tasks, read_tasks
from sparse_sharing.training.mask_search import SearchPaths, rewind
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.training.run_dir import (
    RunPaths,
    create_run_dir,
    first_line,
    load_torch,
    load_weights,
    prepare_run_dir,
    write_json,
)
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


def check_experiment(experiment: Experiment) -> None:
    """What `ssl train` refuses before it starts, so that `ssl validate` refuses it too."""
    config = experiment.config
    if uses_masks(experiment.model) and config.masks is None:
        raise ConfigError(f"masks: sharing '{config.model.sharing.type}' needs a `masks` block: "
                          f"{{type: 'search', ...}} or {{type: 'from_run', path: ...}}")


def train(raw_config: dict, config: Any, run_dir: Path, resume: bool = False, force: bool = False,
          include_packages: Sequence[str] = (), jobs: int | None = None) -> dict:
    paths = prepare_run_dir(run_dir, resume=resume, force=force)
    if resume:
        config = resumed_config(paths, raw_config, config)
    vocab = load_vocabulary(paths) if resume else None
    experiment = build_experiment(config, vocab)
    check_experiment(experiment)
    create_run_dir(paths, resume)  # only now: a refused start leaves no directory behind
    if not resume:  # config.json last: its presence marks a run that can be resumed
        write_json(paths.vocabulary, experiment.vocab.to_json())
        write_json(paths.config, raw_config)
    attach_log(paths)
    logger.info("%s run in %s", "resumed" if resume else "started", paths.root)
    extra_metrics = {}
    if uses_masks(experiment.model):
        try:
            extra_metrics = prepare_masks(experiment, paths, include_packages, jobs)
        except UserError:
            if not resume:  # e.g. `from_run` names a run without masks: nothing of this run is worth keeping
                detach_log(paths)
                shutil.rmtree(paths.root, ignore_errors=True)
            raise
    elif config.masks is not None:
        logger.info("the masks block is unused: sharing '%s' has no masks", config.model.sharing.type)
    callbacks = [CALLBACKS.build(c) for c in config.trainer.callbacks]
    if not any(c.type == "checkpoint" for c in config.trainer.callbacks):
        callbacks.append(CALLBACKS.build(CALLBACKS.get("checkpoint").config(type="checkpoint")))
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, paths, callbacks,
                      experiment.tasks, stage="train")
    trainer.extra_metrics = extra_metrics
    if resume and paths.last_checkpoint.is_file():
        restore_trainer(trainer, paths.last_checkpoint)
        logger.info("resumed after epoch %d (step %d)", trainer.epoch, trainer.step)
        if trainer.epoch > trainer.num_epochs:
            raise RunDirError(f"cannot resume {paths.root} with trainer.num_epochs={trainer.num_epochs}: it has "
                              f"completed {trainer.epoch} epochs already")
    if resume:  # a changed num_epochs, num_threads or device, once the state has loaded
        write_json(paths.config, raw_config)
    return trainer.train()


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


def read_run_json(path: Path) -> Any:
    """A JSON file of a run directory (config, vocabulary), or a RunDirError saying it is broken."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path} does not exist: is {path.parent} a run directory?") from None
    except (ValueError, OSError) as error:
        raise RunDirError(f"{path} is damaged ({first_line(error)}); restore it from a backup or "
                          f"start the run again with --force") from None


def load_vocabulary(paths: RunPaths) -> Vocabulary:
    data = read_run_json(paths.vocabulary)
    try:
        return Vocabulary.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RunDirError(f"{paths.vocabulary} is not a vocabulary sparse-sharing wrote ({first_line(error)}); "
                          f"restore it from a backup or start the run again with --force") from None


def resumed_config(paths: RunPaths, raw_config: dict, config: Any) -> Any:
    """The config a resumed run continues with: the one it started with, except that
    `num_threads`, `device` and `masks.jobs` (properties of the machine: a parallel search gives
    the masks of a serial one) and `trainer.num_epochs` may change. Raising the
    epochs extends a run (the schedules depend on the epoch reached, not on the total, so an
    extended run equals one planned that long); lowering them to the epochs done closes an
    interrupted run as finished."""
    saved_raw = read_run_json(paths.config)
    saved = validate_experiment(saved_raw, source=str(paths.config))
    if saved_raw == raw_config:
        return saved
    before, after = saved.trainer.num_epochs, config.trainer.num_epochs
    saved_dump, new_dump = saved.model_dump(), config.model_dump()
    saved_dump["trainer"]["num_epochs"] = after
    saved_dump["num_threads"] = config.num_threads
    saved_dump["device"] = config.device
    if isinstance(saved_dump.get("masks"), dict) and isinstance(new_dump.get("masks"), dict) \
            and "jobs" in saved_dump["masks"] and "jobs" in new_dump["masks"]:
        saved_dump["masks"]["jobs"] = new_dump["masks"]["jobs"]
    if saved_dump != new_dump:
        raise RunDirError(
            f"cannot resume {paths.root}: the config differs from the one the run started with "
            f"({paths.config}); resume with the same config and overrides (only trainer.num_epochs "
            f", num_threads, device and masks.jobs may change), or start a new run"
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
    if all(mask_path(paths.root, t).is_file() for t in experiment.tasks):
        masks = MaskSet.load(paths.root, sharing.mask_shapes(), tasks=experiment.tasks)
        logger.info("masks already chosen: read from %s", paths.root / "masks")
    else:
        masks, reports = MASKS.build(config.masks, experiment=experiment, run_dir=paths.root,
                                     include_packages=include_packages, jobs=jobs)
        masks.save(paths.root, reports)
    search = SearchPaths(paths.root)
    start = search.warmup if search.warmup.is_file() else search.init
    if start.is_file():
        load_weights(experiment.model, load_torch(start), start, lambda state: rewind(experiment.model, state, masks))
    else:
        sharing.set_masks(masks)
    figures = mask_figures(masks)
    logger.info("masks: %s; overlap ratio %.4f", ", ".join(
        f"{t} kept {100 * f:.2f}%" for t, f in figures["kept_fraction"].items()), figures["overlap_ratio"])
    reports = {t: read_mask_report(paths.root, t) for t in experiment.tasks}
    figures["source"] = {t: r.get("source") for t, r in reports.items()}
    figures["search_steps"] = {t: r.get("search_steps") for t, r in reports.items()}  # the search's cost
    figures["warmup_steps"] = next(iter(reports.values())).get("warmup_steps")
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


def detach_log(paths: RunPaths) -> None:
    target = str(paths.log.resolve())
    root = logging.getLogger("sparse_sharing")
    for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == target]:
        root.removeHandler(handler)
        handler.close()


def load_trained(run_dir: Path) -> tuple[Any, RunPaths, Vocabulary]:
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file() or not paths.vocabulary.is_file():
        raise RunDirError(f"{paths.root} is not a run directory (no config.json or vocabulary.json)")
    config = validate_experiment(read_run_json(paths.config), source=str(paths.config))
    return config, paths, load_vocabulary(paths)


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
    load_weights(model, load_torch(checkpoint, advice="train the run again, or restore the file from a backup"),
                 checkpoint)
    model.eval()
    return model
