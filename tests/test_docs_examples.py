"""docs/plugins.md's worked examples, taken from the page's text and trained through the real CLI,
so the page and the code cannot drift apart.

Every block starting ``# worked example: NAME.py`` becomes a module of one plugin package; three
runs on the tiny corpus use all fourteen: the ten components of a plain run with the
shared-private strategy, a sparse run whose search uses the example pruner and selection rule,
and a sparse run with the example mask source.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import read_sentences, run_ssl, write_tiny_corpus
from sparse_sharing.registry import ALL_KINDS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
EXAMPLE = re.compile(r"^### (\w+)\n.*?```python\n# worked example: (\w+)\.py\n(.*?)```", re.S | re.M)


def examples() -> dict[str, tuple[str, str]]:
    """Kind → (module name, code) of each section's worked example."""
    return {kind: (module, code) for kind, module, code in EXAMPLE.findall(DOCS.read_text(encoding="utf-8"))}


def test_every_kind_has_a_worked_example() -> None:
    assert set(examples()) == set(ALL_KINDS)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples as package ``doc_plugins``, the tiny corpus, its POS column as word/TAG lines, and vectors."""
    root = tmp_path_factory.mktemp("docs")
    package = root / "doc_plugins"
    package.mkdir()
    modules = []
    for module, code in examples().values():
        (package / f"{module}.py").write_text(code, encoding="utf-8")
        modules.append(module)
    (package / "__init__.py").write_text(f"from doc_plugins import {', '.join(modules)}  # noqa: F401\n"
                                         f"SPARSE_SHARING_PLUGIN_API = 3\n", encoding="utf-8")
    corpus = write_tiny_corpus(root / "data")
    words = set()
    for split, path in corpus.items():
        lines = [" ".join("/".join(token.split()[:2]) for token in sentence) for sentence in read_sentences(path)]
        (root / "data" / f"{split}.pos").write_text("\n".join(lines) + "\n", encoding="utf-8")
        words.update(token.split()[0] for sentence in read_sentences(path) for token in sentence)
    vectors = {word: [((sum(map(ord, word)) >> shift) % 7 - 3) / 10 for shift in range(8)]
               for word in sorted(words)[::2]}  # half the words: the others start at random
    (root / "vectors.json").write_text(json.dumps(vectors), encoding="utf-8")
    return root


def config(root: Path, **changes: Any) -> Path:
    data = root / "data"
    base: dict[str, Any] = {
        "seed": 3,
        "tasks": {
            "pos": {"dataset_reader": {"type": "slash_tagged"}, "train_path": str(data / "train.pos"),
                    "dev_path": str(data / "dev.pos"), "test_path": str(data / "test.pos"),
                    "metric": {"type": "sentence_accuracy"}, "head": {"type": "smoothed_softmax"}},
            "chunk": {"dataset_reader": {"type": "conll", "tag_column": 2, "input_scheme": "bio", "tag_scheme": "bio"},
                      "train_path": str(data / "train.txt"), "dev_path": str(data / "dev.txt"),
                      "metric": {"type": "span_f1"}, "head": {"type": "crf"}},
        },
        "vocabulary": {"lowercase_words": False, "min_count": 1, "pretrained_words": "none"},
        "model": {
            "token_embedders": [
                {"type": "word", "dim": 8,
                 "pretrained": {"source": "json_vectors", "path": str(root / "vectors.json")}},
                {"type": "word_shape", "dim": 4},
            ],
            "encoder": {"type": "feedforward", "hidden_size": 8},
            "sharing": {"type": "shared_private"},
        },
        "trainer": {"num_epochs": 2, "batch_size": 8, "sampler": {"type": "deficit"},
                    "optimizer": {"type": "rmsprop", "lr": 0.01}, "lr_scheduler": {"type": "exponential"},
                    "callbacks": [{"type": "checkpoint"}, {"type": "dev_csv"}]},
    }
    for key, value in changes.items():
        section, name = key.split("__")
        base[section][name] = value
    path = root / f"config-{len(list(root.glob('config-*.json')))}.json"
    path.write_text(json.dumps(base), encoding="utf-8")
    return path


def train(root: Path, config_path: Path, run: str) -> Path:
    result = run_ssl("train", config_path, "-s", root / run, "--include-package", "doc_plugins", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    return root / run


def test_the_plain_kinds_train_and_evaluate(workspace: Path) -> None:
    run = train(workspace, config(workspace), "plain")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["finished"] and metrics["strategy"] == "shared_private"
    assert set(metrics["tasks"]["pos"]["dev_metrics"]) == {"score"}
    lines = (run / "dev_scores.csv").read_text().splitlines()
    assert lines[0] == "epoch,step,lr,chunk,pos" and [line.split(",")[0] for line in lines[1:]] == ["1", "2"]
    assert float(lines[1].split(",")[2]) > float(lines[2].split(",")[2])  # the exponential schedule
    evaluated = run_ssl("evaluate", run, workspace / "data" / "test.pos", "--task", "pos",
                        "--include-package", "doc_plugins", cwd=workspace)
    assert evaluated.returncode == 0, evaluated.stderr
    assert re.fullmatch(r"pos: sentence_accuracy \d+\.\d\d\n", evaluated.stdout)


def test_the_example_pruner_and_selection_run_a_search(workspace: Path) -> None:
    path = config(workspace, model__encoder={"type": "bilstm", "hidden_size": 8}, model__sharing={"type": "sparse"},
                  trainer__num_epochs=1)
    raw = json.loads(path.read_text())
    raw["masks"] = {"type": "search", "steps_per_round": 2, "pruner": {"type": "column_norm", "rate": 0.3, "rounds": 2},
                    "selection": {"type": "fraction_of_best", "fraction": 0.5}}
    path.write_text(json.dumps(raw))
    run = train(workspace, path, "search")
    report = json.loads((run / "masks" / "pos.json").read_text())
    assert report["search"]["pruner"]["type"] == "column_norm" and report["selection"]["type"] == "fraction_of_best"
    assert [r["round"] for r in report["rounds"]] == [0, 1, 2]


def test_the_example_mask_source_gives_the_masks(workspace: Path) -> None:
    path = config(workspace, model__encoder={"type": "bilstm", "hidden_size": 8}, model__sharing={"type": "sparse"},
                  trainer__num_epochs=1)
    raw = json.loads(path.read_text())
    raw["masks"] = {"type": "random_subnet", "kept_fraction": 0.5}
    path.write_text(json.dumps(raw))
    run = train(workspace, path, "random")
    report = json.loads((run / "masks" / "pos.json").read_text())
    assert report["source"] == "random_subnet" and abs(report["kept_fraction"] - 0.5) < 0.05
