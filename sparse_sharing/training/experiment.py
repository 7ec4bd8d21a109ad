"""An experiment in memory: validated config, tasks, data, vocabulary and model, new or of a run."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.config.schema import trained_tasks, validate_experiment
from sparse_sharing.devices import check_precision, resolve_device
from sparse_sharing.errors import ConfigError, RunDirError
from sparse_sharing.files import check_loads_safely, first_line, load_torch, load_weights
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import ALL_KINDS, CALLBACKS, MASK_SOURCES, METRICS, SAMPLERS, SELECTIONS, Registry
from sparse_sharing.registry.contracts import MaskedSharingContract
from sparse_sharing.training.data_setup import TaskData, build_vocabulary, index_tasks, read_tasks
from sparse_sharing.training.memory import building_model
from sparse_sharing.training.model import MultiTaskTagger, build_model


@dataclass
class Experiment:
    config: Any
    tasks: list[str]
    data: dict[str, TaskData]
    vocab: Vocabulary
    model: MultiTaskTagger
    device: torch.device

    @property
    def tag_schemes(self) -> dict[str, str]:
        return {t: d.tag_scheme for t, d in self.data.items()}


def build_experiment(config: Any, vocab: Vocabulary | None = None) -> Experiment:
    """Read the data, build (or index with) the vocabulary, build the model.

    The model's initial weights come from the global random state: the caller seeds it (the
    CLI does, with the config's seed) and sets the thread count.
    """
    device = resolve_device(config.device)  # before any work: a missing GPU is the first thing said
    check_precision(config.trainer.precision, device)
    tasks = trained_tasks(config)
    data = read_tasks(config, tasks)
    if vocab is None:
        vocab = build_vocabulary(config, data)
    index_tasks(data, vocab)
    with building_model(config, device):
        model = build_model(config, vocab, tasks, {t: d.tag_scheme for t, d in data.items()}).to(device)
    return Experiment(config, tasks, data, vocab, model, device)


def uses_masks(model: MultiTaskTagger) -> bool:
    """Whether the strategy runs its tasks under masks (and the run needs a mask source)."""
    return isinstance(model.sharing, MaskedSharingContract)


def masks_config(experiment: Experiment) -> BaseModel | None:
    """The config's ``masks`` block where the strategy runs under masks, else None; a masked strategy
    without one is a ConfigError (the one place that says so, for `ssl validate` and `ssl train`)."""
    config = experiment.config
    if not uses_masks(experiment.model):
        return None
    if config.masks is None:
        raise ConfigError(f"masks: sharing '{config.model.sharing.type}' needs a `masks` block: "
                          f"{{type: 'search', ...}} or {{type: 'from_run', path: ...}}")
    return config.masks


def check_experiment(experiment: Experiment) -> None:
    """What `ssl train` refuses before it starts, so that `ssl validate` refuses it too.

    Every component the run builds later (the sampler, callbacks, metrics, the mask source and the
    components its config names) is built once here, before the run directory exists: a plugin
    that cannot be built, or whose state a checkpoint could not hold, fails now and leaves nothing
    behind. Built-ins draw nothing from the global random state when built, so this does not
    change what the run trains.
    """
    config = experiment.config
    masks = masks_config(experiment)
    trainer = config.trainer
    sizes = {t: math.ceil(len(experiment.data[t].instances["train"]) / trainer.batch_size) for t in experiment.tasks}
    check_loads_safely(SAMPLERS.build(trainer.sampler, sizes=sizes, seed=config.seed).state_dict(),
                       f"sampler '{trainer.sampler.type}'")
    for callback_config in trainer.callbacks:
        check_loads_safely(CALLBACKS.build(callback_config).state_dict(), f"callback '{callback_config.type}'")
    for task in experiment.tasks:
        METRICS.build(config.tasks[task].metric)
    if masks is not None:
        MASK_SOURCES.build(masks)
        for registry, component_config in nested_components(masks):
            component = registry.build(component_config)
            check_tasks = getattr(component, "check_tasks", None)
            if registry is SELECTIONS and check_tasks is not None:  # a rule that depends on the tasks sees them now
                check_tasks(experiment.tasks)


def nested_components(config: BaseModel) -> list[tuple[Registry, BaseModel]]:
    """The component configs inside a component's config (a search's pruner and selection), with their
    registries, at any depth."""
    return [(registry, value) for registry, value in every_component(config) if value is not config]


def every_component(value: Any) -> list[tuple[Registry, BaseModel]]:
    """Every component config in ``value`` (``value`` itself included) with its registry, through
    fields, lists and dicts at any depth: of an experiment's config, the model's parts, each task's
    reader and metric, the trainer's optimizer, scheduler, sampler and callbacks, and the masks
    block with its pruner and selection rule."""
    if isinstance(value, BaseModel):
        registry = _registry_of(value)
        found = [(registry, value)] if registry is not None else []
        return found + [c for name in type(value).model_fields for c in every_component(getattr(value, name))]
    if isinstance(value, dict):
        return [c for item in value.values() for c in every_component(item)]
    if isinstance(value, (list, tuple)):
        return [c for item in value for c in every_component(item)]
    return []


def _registry_of(config: BaseModel) -> Registry | None:
    for registry in ALL_KINDS.values():
        name = getattr(config, registry.tag, None)
        if isinstance(name, str) and name in registry.names() and isinstance(config, registry.get(name).config):
            return registry
    return None


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


def load_trained(run_dir: Path) -> tuple[Any, RunPaths, Vocabulary]:
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file() or not paths.vocabulary.is_file():
        raise RunDirError(f"{paths.root} is not a run directory (no config.json or vocabulary.json)")
    config = validate_experiment(read_run_json(paths.config), source=str(paths.config))
    return config, paths, load_vocabulary(paths)


def load_best_model(config: Any, paths: RunPaths, vocab: Vocabulary, task: str,
                    tag_schemes: dict[str, str]) -> MultiTaskTagger:
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
