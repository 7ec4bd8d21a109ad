"""`ssl validate`'s rehearsal: every component of a config run once, on a few sentences, in a throw-away directory.

Building a component proves little about a plugin: its ``update``, ``on_evaluation``, ``scores``
or ``choose`` fail only when called. So validate trains one short epoch of the real loop (the
config's sampler, optimizer, scheduler, callbacks and each task's metric on dev and test), writes
and reads back its checkpoint (every ``state_dict`` and ``load_state_dict``), and runs what a
mask search would call between rounds: the pruner on the model's prunable weights and the
selection rule on a search's records. The directory is removed however it ends; what the
rehearsal trains is thrown away with the experiment.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping

from sparse_sharing.components.data.batching import index_sentences
from sparse_sharing.components.masks.mask_set import MaskSet, all_kept
from sparse_sharing.errors import PluginError
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import PRUNERS, SELECTIONS, Registry
from sparse_sharing.training.data_setup import TaskData
from sparse_sharing.training.experiment import Experiment, nested_components, uses_masks
from sparse_sharing.training.runner import joint_callbacks, restore_trainer
from sparse_sharing.training.trainer import Trainer

SENTENCES = 4  # per task and split: enough for a batch and an evaluation, few enough to take a moment


def rehearse(experiment: Experiment, sentences: int = SENTENCES) -> None:
    """Run every component of ``experiment`` once (after ``check_experiment``); its model is trained a little."""
    config, model = experiment.config, experiment.model
    data = {task: first_sentences(d, experiment.vocab, task, sentences) for task, d in experiment.data.items()}
    if uses_masks(model):
        shapes = model.sharing.mask_shapes()
        model.sharing.set_masks(MaskSet({task: all_kept(shapes) for task in experiment.tasks}))
        for registry, component_config in nested_components(config.masks):
            _exercise(registry, registry.build(component_config), experiment)
    # Compiling is left out: it takes minutes, and a compile that fails does not fail a run (it trains eagerly).
    trainer_config = config.trainer.model_copy(update={"num_epochs": 1, "evaluate_every_steps": None,
                                                       "compile": False})
    short = config.model_copy(update={"trainer": trainer_config})
    with tempfile.TemporaryDirectory(prefix="ssl-validate-") as directory:
        paths = RunPaths(Path(directory))
        trainer = Trainer(short, model, data, experiment.vocab, paths, joint_callbacks(short), experiment.tasks,
                          device=experiment.device, stage="validate", log_evaluations=False)
        with warnings.catch_warnings():
            # A task the sampler never drew in these few steps leaves its optimizer unstepped when the
            # scheduler steps at the epoch's end, which torch warns about; a real epoch draws every task.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
            trainer.train()
        restore_trainer(trainer, paths.last_checkpoint)


def first_sentences(data: TaskData, vocab: Any, task: str, count: int) -> TaskData:
    sentences = {split: found[:count] for split, found in data.sentences.items()}
    return TaskData(data.reader, sentences, {split: index_sentences(s, vocab, task) for split, s in sentences.items()})


def _exercise(registry: Registry, component: Any, experiment: Experiment) -> None:
    """Call a mask search's nested component as the search would, and check what it gives back."""
    task = experiment.tasks[0]
    if registry is PRUNERS:
        weights = experiment.model.sharing.prunable_weights(task)
        mask = all_kept(experiment.model.sharing.mask_shapes())
        pruned = component.prune(weights, mask)
        if not _is_mask_within(pruned, mask):
            raise PluginError(f"{_subject(registry, component)}: prune(weights, mask) must return a dict of every "
                              f"tensor's name → a bool tensor of its shape, kept only where `mask` keeps; see "
                              f"docs/plugins.md#pruner")
    elif registry is SELECTIONS:
        records = [{"task": task, "round": k, "kept_fraction": 0.8 ** k, "dev_score": 50.0 + k % 2, "steps": 1,
                    "seconds": 0.0} for k in range(3)]
        chosen = component.choose(records)
        if not any(chosen is r or chosen == r for r in records):
            raise PluginError(f"{_subject(registry, component)}: choose(records) must return one of the records "
                              f"it is given; it returned {chosen!r}; see docs/plugins.md#selection")


def _is_mask_within(pruned: Any, mask: Mapping[str, Any]) -> bool:
    return isinstance(pruned, Mapping) and set(pruned) == set(mask) and all(
        getattr(pruned[n], "dtype", None) == m.dtype and pruned[n].shape == m.shape and not (pruned[n] & ~m).any()
        for n, m in mask.items())


def _subject(registry: Registry, component: Any) -> str:
    entry = registry.owner(component)
    name = f" '{entry.name}'" if entry is not None else ""
    return f"{registry.kind}{name} ({type(component).__module__}.{type(component).__qualname__})"
