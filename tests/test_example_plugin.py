"""The example plugin package (examples/ssl-examples) trains through the real CLI, both ways a
user loads a plugin: ``--include-package`` from its source folder, and installed by pip with
its entry point (from a copy, into a folder of its own: the build leaves nothing in the
checkout, and the entry point reaches only these runs).

Its config names all five of its components: the GRU encoder, the word2vec vectors source,
the annealed sampler, the row-norm pruner and the sparsest-within selection rule; the tasks
are swapped for the tiny corpus to keep the runs to seconds.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_ssl, write_tiny_corpus
from sparse_sharing.registry import PLUGIN_API_VERSION

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ssl-examples"


def tiny_tasks(corpus: dict[str, Path]) -> str:
    def task(column: int, scheme: str, metric: str, head: str) -> dict:
        return {"dataset_reader": {"type": "conll", "tag_column": column, "input_scheme": scheme,
                                   "tag_scheme": scheme},
                "train_path": str(corpus["train"]), "dev_path": str(corpus["dev"]), "test_path": str(corpus["test"]),
                "metric": {"type": metric}, "head": {"type": head}}

    return json.dumps({"pos": task(1, "none", "accuracy", "softmax"), "chunk": task(2, "bio", "span_f1", "crf"),
                       "ner": task(3, "bio", "span_f1", "crf")})


def train_example(run_dir: Path, corpus: dict[str, Path], *extra: str, pythonpath: Path) -> subprocess.CompletedProcess:
    return run_ssl("train", "example.jsonnet", "-s", run_dir, "-o", f"tasks={tiny_tasks(corpus)}",
                   "-o", "masks.steps_per_round=5", "-o", "masks.warmup_steps=5", "-o", "trainer.num_epochs=1",
                   *extra, cwd=EXAMPLE, env={"PYTHONPATH": str(pythonpath)})


def assert_trained_with_the_plugin(result: subprocess.CompletedProcess, run_dir: Path) -> None:
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["encoder"]["type"] == "gru"
    assert config["trainer"]["sampler"]["type"] == "annealed_temperature"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["finished"] and set(metrics["tasks"]) == {"pos", "chunk", "ner"}
    for task in ("pos", "chunk", "ner"):
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text())
        assert report["search"]["pruner"]["type"] == "row_norm"
        assert report["selection"] == {"type": "sparsest_within", "tolerance": 1.0}
        assert [r["round"] for r in report["rounds"]] == [0, 1, 2]
    assert "encoder.layers.0.weight_hh_l0" in (run_dir / "masks" / "pos.json").read_text()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_corpus(tmp_path_factory.mktemp("example_data"))


def test_example_plugin_by_include_package(tmp_path: Path, corpus: dict[str, Path]) -> None:
    run_dir = tmp_path / "run"
    result = train_example(run_dir, corpus, "--include-package", "ssl_examples", pythonpath=EXAMPLE / "src")
    assert_trained_with_the_plugin(result, run_dir)


def test_example_plugin_by_entry_point(tmp_path: Path, corpus: dict[str, Path]) -> None:
    site, source = tmp_path / "site", tmp_path / "ssl-examples"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)]
    if importlib.util.find_spec("setuptools") is not None:
        install.append("--no-build-isolation")  # offline where setuptools is at hand; else pip fetches it
    subprocess.run(install, check=True, capture_output=True, text=True, timeout=300,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert list(site.glob("ssl_examples-*.dist-info/entry_points.txt"))
    run_dir = tmp_path / "run"
    result = train_example(run_dir, corpus, pythonpath=site)
    assert_trained_with_the_plugin(result, run_dir)
    listed = run_ssl("components", "pruner", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert listed.returncode == 0 and "row_norm" in listed.stdout


def test_without_the_plugin_its_names_get_the_registry_error(tmp_path: Path, corpus: dict[str, Path]) -> None:
    result = train_example(tmp_path / "run", corpus, pythonpath=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for kind, name in (("encoder", "gru"), ("sampler", "annealed_temperature"), ("pruner", "row_norm"),
                       ("selection", "sparsest_within"), ("pretrained_vectors", "word2vec")):
        assert f"'{name}' is not a registered {kind}." in result.stderr, result.stderr
    assert "--include-package PKG" in result.stderr and "'sparse_sharing.plugins'" in result.stderr


def test_the_example_declares_the_current_plugin_api() -> None:
    module = ast.parse((EXAMPLE / "src" / "ssl_examples" / "__init__.py").read_text(encoding="utf-8"))
    declared = {node.targets[0].id: node.value.value for node in module.body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert declared["SPARSE_SHARING_PLUGIN_API"] == PLUGIN_API_VERSION
