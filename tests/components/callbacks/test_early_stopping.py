"""The ``early_stopping`` callback: it stops the loop after ``patience`` evaluations without a dev
improvement, an improvement resets its count, and the count survives a resume."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sparse_sharing.config.loading import load_experiment
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import CALLBACKS
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.training.trainer import Trainer


def early_stopping(patience: int):
    return CALLBACKS.build(CALLBACKS.get("early_stopping").config(type="early_stopping", patience=patience))


def test_patience_counts_evaluations_without_improvement() -> None:
    callback, trainer = early_stopping(3), SimpleNamespace(should_stop=False)
    record = {"epoch": 1, "step": 1, "tasks": {}}
    for improved in (["pos"], [], [], ["ner"], [], []):
        callback.on_evaluation(trainer, record, improved)
    assert not trainer.should_stop and callback.bad_evaluations == 2
    resumed = early_stopping(3)
    resumed.load_state_dict(callback.state_dict())
    resumed.on_evaluation(trainer, record, [])
    assert trainer.should_stop


def test_the_loop_stops_at_the_end_of_the_epoch_it_ran_out_of_patience(tiny_config: Path, tmp_path: Path) -> None:
    _, config = load_experiment(tiny_config)
    config = config.model_copy(update={"trainer": config.trainer.model_copy(update={"num_epochs": 6})})
    experiment = build_experiment(config)
    callback = early_stopping(1)
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, RunPaths(tmp_path / "run"),
                      [callback], experiment.tasks, device=experiment.device)
    trainer._select = lambda record: ["pos"] if record["epoch"] == 1 else []  # dev improves once, in epoch 1
    metrics = trainer.train()
    assert [r["epoch"] for r in trainer.history] == [1, 2] and metrics["epochs_completed"] == 2
    assert metrics["finished"]
