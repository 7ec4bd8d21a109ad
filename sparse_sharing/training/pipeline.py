"""`ssl train` and `ssl validate` as functions: config → data → vocabulary → model → loop."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.config.schema import trained_tasks, validate_experiment
from sparse_sharing.errors import RunDirError
from sparse_sharing.registry import CALLBACKS
from sparse_sharing.training.data_setup import TaskData, build_vocabulary, index_tasks, read_tasks
from sparse_sharing.training.model import MultiTaskTagger, build_model
from sparse_sharing.training.run_dir import RunPaths, load_torch, prepare_run_dir, write_json
from sparse_sharing.training.trainer import Trainer, seed_everything

logger = logging.getLogger(__name__)


@dataclass
class Experiment:
    config: Any
    tasks: list[str]
    data: dict[str, TaskData]
    vocab: Vocabulary
    model: MultiTaskTagger


def build_experiment(config: Any, vocab: Vocabulary | None = None) -> Experiment:
    torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    tasks = trained_tasks(config)
    data = read_tasks(config, tasks)
    if vocab is None:
        vocab = build_vocabulary(config, data)
    index_tasks(data, vocab)
    model = build_model(config, vocab, tasks, {t: d.tag_scheme for t, d in data.items()})
    return Experiment(config, tasks, data, vocab, model)


def train(raw_config: dict, config: Any, run_dir: Path, resume: bool = False, force: bool = False) -> dict:
    paths = prepare_run_dir(run_dir, resume=resume, force=force)
    if resume:
        saved = json.loads(paths.config.read_text())
        if saved != raw_config:
            raise RunDirError(
                f"cannot resume {paths.root}: the config differs from the one the run started with "
                f"({paths.config}); resume with the same config and overrides, or start a new run"
            )
        config = validate_experiment(saved, source=str(paths.config))
    _attach_log(paths)
    logger.info("%s run in %s", "resuming" if resume else "starting", paths.root)
    vocab = Vocabulary.load(paths.vocabulary) if resume and paths.vocabulary.is_file() else None
    experiment = build_experiment(config, vocab)
    if not resume or not paths.vocabulary.is_file():
        write_json(paths.config, raw_config)
        write_json(paths.vocabulary, experiment.vocab.to_json())
    callbacks = [CALLBACKS.build(c) for c in config.trainer.callbacks]
    if not any(c.type == "checkpoint" for c in config.trainer.callbacks):
        callbacks.append(CALLBACKS.build(CALLBACKS.get("checkpoint").config(type="checkpoint")))
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, paths, callbacks,
                      experiment.tasks)
    if resume and paths.last_checkpoint.is_file():
        trainer.load_state_dict(load_torch(paths.last_checkpoint))
        logger.info("resumed after epoch %d (step %d)", trainer.epoch, trainer.step)
    return trainer.train()


def _attach_log(paths: RunPaths) -> None:
    handler = logging.FileHandler(paths.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("sparse_sharing").addHandler(handler)


def load_trained(run_dir: Path) -> tuple[Any, RunPaths, Vocabulary]:
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file() or not paths.vocabulary.is_file():
        raise RunDirError(f"{paths.root} is not a run directory (no config.json or vocabulary.json)")
    config = validate_experiment(json.loads(paths.config.read_text()), source=str(paths.config))
    return config, paths, Vocabulary.load(paths.vocabulary)


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
