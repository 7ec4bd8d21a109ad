"""Train, evaluate and predict through the real ``ssl`` command on the tiny corpus.

The training runs are module-scoped: every test here reads the same finished run, and the
determinism test compares it with one more run of the same config.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SIZES, read_sentences, run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.config.loading import resolve_config

TASKS = ("pos", "chunk", "ner")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def corpus(workdir: Path) -> dict[str, Path]:
    return write_tiny_corpus(workdir / "data")


@pytest.fixture(scope="module")
def config(workdir: Path, corpus: dict[str, Path]) -> Path:
    return write_tiny_config(workdir / "tiny.jsonnet", corpus)


def train(config: Path, run_dir: Path) -> Path:
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    for task in TASKS:
        assert f"{task}: dev-best epoch" in result.stdout
    return run_dir


@pytest.fixture(scope="module")
def run(workdir: Path, config: Path) -> Path:
    return train(config, workdir / "run")


@pytest.fixture(scope="module")
def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_run_dir_holds_every_artifact(run: Path, config: Path) -> None:
    assert json.loads((run / "config.json").read_text()) == resolve_config(config)
    vocabulary = json.loads((run / "vocabulary.json").read_text())
    assert set(vocabulary["labels"]) == set(TASKS)
    assert "NN" in vocabulary["labels"]["pos"]
    assert any(label.startswith("S-") for label in vocabulary["labels"]["ner"])  # trained in BIOES
    assert (run / "checkpoints" / "last.pt").is_file()
    for task in TASKS:
        assert (run / "checkpoints" / f"best-{task}.pt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    log = (run / "train.log").read_text()
    assert "epoch 2 step" in log


def test_metrics_record_dev_best_epoch_per_task(metrics: dict) -> None:
    """Each task's best is the first evaluation with its highest dev score; test is read there."""
    assert metrics["finished"] is True
    assert metrics["epochs_completed"] == 2
    assert [record["epoch"] for record in metrics["history"]] == [1, 2]
    for task in TASKS:
        best = metrics["tasks"][task]
        dev_scores = [record["tasks"][task]["dev"]["score"] for record in metrics["history"]]
        assert best["dev"] == max(dev_scores)
        assert best["epoch"] == dev_scores.index(max(dev_scores)) + 1
        record = metrics["history"][best["epoch"] - 1]
        assert best["test"] == record["tasks"][task]["test"]["score"]
        assert best["test_metrics"] == record["tasks"][task]["test"]


def test_evaluate_reproduces_test_figures_at_dev_best(run: Path, corpus: dict[str, Path], metrics: dict,
                                                      tmp_path: Path) -> None:
    """The dev-best checkpoint scores the test file exactly as the run scored it at that epoch."""
    output = tmp_path / "figures.json"
    result = run_ssl("evaluate", run, corpus["test"], "--output", output)
    assert result.returncode == 0, result.stderr
    for task in TASKS:
        assert any(line.startswith(f"{task}: ") for line in result.stdout.splitlines()), result.stdout
    figures = json.loads(output.read_text())
    assert set(figures) == set(TASKS)
    assert figures["pos"]["accuracy"] == metrics["tasks"]["pos"]["test_metrics"]["accuracy"]
    for task in TASKS:
        assert figures[task] == metrics["tasks"][task]["test_metrics"]


def test_predict_writes_a_column_per_task(run: Path, corpus: dict[str, Path], tmp_path: Path) -> None:
    gold = read_sentences(corpus["test"])
    words = [[line.split()[0] for line in sentence] for sentence in gold]
    input_file = tmp_path / "words.txt"
    input_file.write_text("\n\n".join("\n".join(sentence) for sentence in words) + "\n")

    result = run_ssl("predict", run, input_file)
    assert result.returncode == 0, result.stderr

    blocks = result.stdout.strip("\n").split("\n\n")
    assert len(blocks) == len(words) == SIZES["test"]
    config = json.loads((run / "config.json").read_text())
    labels = json.loads((run / "vocabulary.json").read_text())["labels"]
    tasks = list(config["tasks"])  # the column order
    for block, sentence in zip(blocks, words):
        rows = [line.split() for line in block.split("\n")]
        assert [row[0] for row in rows] == sentence
        for row in rows:
            assert len(row) == 1 + len(tasks)
            for task, tag in zip(tasks, row[1:]):
                assert tag in labels[task]


def test_training_is_deterministic(workdir: Path, config: Path, metrics: dict) -> None:
    again = train(config, workdir / "run_again")
    metrics_again = json.loads((again / "metrics.json").read_text())
    assert metrics_again["history"] == metrics["history"]
    assert metrics_again["tasks"] == metrics["tasks"]
