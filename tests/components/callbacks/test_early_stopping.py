"""The ``early_stopping`` callback: it stops the loop after ``patience`` evaluations without a dev
improvement, an improvement resets its count (with ``min_delta``, only one by more than that),
and the count survives a resume."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sparse_sharing.config.loading import load_experiment
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import CALLBACKS
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.training.trainer import Trainer


def early_stopping(patience: int, **options: float):
    return CALLBACKS.build(CALLBACKS.get("early_stopping").config(type="early_stopping", patience=patience,
                                                                  **options))


def evaluation(**dev: float) -> dict:
    return {"epoch": 1, "step": 1, "tasks": {task: {"dev": {"score": score}} for task, score in dev.items()}}


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


def test_min_delta_counts_only_gains_larger_than_it() -> None:
    callback = early_stopping(2, min_delta=0.1)
    trainer = SimpleNamespace(should_stop=False, trainer_config=SimpleNamespace(selection="per_task"))
    callback.on_evaluation(trainer, evaluation(pos=90.0, ner=80.0), ["pos", "ner"])
    callback.on_evaluation(trainer, evaluation(pos=90.05, ner=80.1), ["pos", "ner"])  # gains of 0.05 and 0.1
    assert callback.bad_evaluations == 1 and callback.best == {"pos": 90.0, "ner": 80.0}
    callback.on_evaluation(trainer, evaluation(pos=90.11, ner=79.0), ["pos"])  # pos gains 0.11 over 90.0
    assert callback.bad_evaluations == 0 and callback.best == {"pos": 90.11, "ner": 80.0}
    resumed = early_stopping(2, min_delta=0.1)
    resumed.load_state_dict(callback.state_dict())
    for dev in ({"pos": 90.2, "ner": 80.05}, {"pos": 90.21, "ner": 80.1}):  # the trainer still sees gains
        resumed.on_evaluation(trainer, evaluation(**dev), ["pos"])
    assert trainer.should_stop

    mean = early_stopping(1, min_delta=0.5)
    trainer = SimpleNamespace(should_stop=False, trainer_config=SimpleNamespace(selection="mean"))
    mean.on_evaluation(trainer, evaluation(pos=90.0, ner=80.0), ["pos", "ner"])
    mean.on_evaluation(trainer, evaluation(pos=91.9, ner=78.9), ["pos", "ner"])  # the mean gains 0.4
    assert trainer.should_stop and mean.best == {"mean": 85.0}


def test_a_checkpoint_from_before_min_delta_resumes() -> None:
    callback = early_stopping(3)
    callback.load_state_dict({"bad_evaluations": 2})
    assert callback.bad_evaluations == 2 and callback.best == {}


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
