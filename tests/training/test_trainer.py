"""The training loop itself (``training/trainer.py``): dev-only model selection per task and by the
mean, ties, when it evaluates (every N steps, each epoch, at the end of a step budget)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sparse_sharing.components.records import Evaluation
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.training.trainer import Trainer

STEPS_PER_EPOCH = 15  # the tiny corpus: 40 sentences a task in batches of 8, three tasks


def tiny_trainer(tiny_config: Path, tmp_path: Path, max_steps: int | None = None, **trainer: Any) -> Trainer:
    _, config = load_experiment(tiny_config)
    config = config.model_copy(update={"trainer": config.trainer.model_copy(update=trainer)})
    experiment = build_experiment(config)
    return Trainer(config, experiment.model, experiment.data, experiment.vocab, RunPaths(tmp_path / "run"), [],
                   experiment.tasks, device=experiment.device, max_steps=max_steps)


def evaluation(step: int, **dev: float) -> Evaluation:
    return {"epoch": 0, "step": step,
            "tasks": {t: {"dev": {"score": s}, "test": {"score": s + 1000}} for t, s in dev.items()}}


def test_per_task_selection_keeps_each_tasks_best_and_a_tie_keeps_the_earlier(tiny_config: Path,
                                                                               tmp_path: Path) -> None:
    trainer = tiny_trainer(tiny_config, tmp_path, selection="per_task")
    assert trainer._select(evaluation(1, pos=50.0, ner=60.0)) == ["pos", "ner"]
    assert trainer._select(evaluation(2, pos=55.0, ner=60.0)) == ["pos"]  # ner ties: the earlier stays
    assert trainer._select(evaluation(3, pos=54.0, ner=59.0)) == []
    assert {t: (b["step"], b["dev"], b["test"]) for t, b in trainer.best.items()} == {
        "pos": (2, 55.0, 1055.0), "ner": (1, 60.0, 1060.0)}
    assert trainer.best["pos"]["dev_metrics"] == {"score": 55.0}


def test_mean_selection_takes_whole_evaluations_and_a_tie_keeps_the_earlier(tiny_config: Path,
                                                                            tmp_path: Path) -> None:
    trainer = tiny_trainer(tiny_config, tmp_path, selection="mean")
    assert trainer._select(evaluation(1, pos=50.0, ner=60.0)) == ["pos", "ner"]
    assert trainer._select(evaluation(2, pos=70.0, ner=40.0)) == []  # the same mean
    assert trainer._select(evaluation(3, pos=40.0, ner=80.0)) == ["pos", "ner"]  # pos worse, the mean better
    assert {t: (b["step"], b["dev"]) for t, b in trainer.best.items()} == {"pos": (3, 40.0), "ner": (3, 80.0)}
    assert trainer.best_mean == 60.0


def test_evaluate_every_steps_and_once_more_at_the_end_of_the_budget(tiny_config: Path, tmp_path: Path) -> None:
    trainer = tiny_trainer(tiny_config, tmp_path / "a", max_steps=7, evaluate_every_steps=3)
    trainer.train()
    assert [r["step"] for r in trainer.history] == [3, 6, 7]
    trainer = tiny_trainer(tiny_config, tmp_path / "b", max_steps=6, evaluate_every_steps=3)
    trainer.train()
    assert [r["step"] for r in trainer.history] == [3, 6]  # the budget's end was evaluated already


def test_without_evaluate_every_steps_each_epoch_ends_with_an_evaluation(tiny_config: Path, tmp_path: Path) -> None:
    budget = tiny_trainer(tiny_config, tmp_path / "a", max_steps=STEPS_PER_EPOCH + 5)
    assert budget.steps_per_epoch == STEPS_PER_EPOCH and budget.num_epochs == 2
    budget.train()
    assert [(r["epoch"], r["step"]) for r in budget.history] == [(1, STEPS_PER_EPOCH), (1, STEPS_PER_EPOCH + 5)]
    epochs = tiny_trainer(tiny_config, tmp_path / "b", num_epochs=2)
    metrics = epochs.train()
    assert [(r["epoch"], r["step"]) for r in epochs.history] == [(1, STEPS_PER_EPOCH), (2, 2 * STEPS_PER_EPOCH)]
    assert metrics["finished"] and metrics["steps"] == 2 * STEPS_PER_EPOCH
    assert metrics["tasks"] == epochs.best and set(metrics["tasks"]) == {"pos", "chunk", "ner"}
