"""The records a run writes, as types: an evaluation of the loop (an entry of metrics.json's
``history``, the record a callback's ``on_evaluation`` receives), a task's dev-best figures
(metrics.json's ``tasks``), and a mask search's candidate (``mask_search/<task>/round_<k>.json``, what
a selection rule's ``choose`` receives).

Why TypedDicts and not classes: these records are JSON in metrics.json and the round files,
plain dicts in checkpoints (whose safe loader reads nothing else) and dicts in the plugin
contracts; typing them names every key for readers and type checkers while what is written,
loaded and handed to plugins stays exactly as it was.
"""
from __future__ import annotations

from typing import NotRequired, TypedDict

Scores = dict[str, float]  # a metric's figures in percent: "score" (what selection compares) and its parts


class TaskScores(TypedDict):
    dev: Scores
    test: NotRequired[Scores]  # where the task has test data


class Evaluation(TypedDict):
    """One evaluation of every task, after ``step`` steps in epoch ``epoch``."""

    epoch: int
    step: int
    tasks: dict[str, TaskScores]


class BestScores(TypedDict):
    """A task's dev-best evaluation: where it was, its dev and test scores and their figures."""

    epoch: int
    step: int
    dev: float
    test: float | None
    dev_metrics: Scores
    test_metrics: Scores | None


class CandidateRecord(TypedDict):
    """One candidate mask of a task (an IMP round, a stop of gradual pruning, a one-shot prune)."""

    task: str
    round: int
    kept_fraction: float
    dev_score: float
    steps: int  # training steps it took
    seconds: float
    dense_steps: NotRequired[int]  # one_shot: the dense training every candidate shares
    dense_seconds: NotRequired[float | None]  # one_shot: its time (None: trained before 0.2.0 recorded it)


def dev_score(scores: TaskScores) -> float:
    """The score selection compares: the metric's ``score`` on dev."""
    return scores["dev"]["score"]
