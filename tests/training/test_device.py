"""The `device` option: resolution, the clear error without CUDA, the CUDA random state in
checkpoints, and the whole sparse pipeline, evaluate and predict with `--device cpu` through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import run_ssl, write_sentences, write_tiny_config, write_tiny_corpus
from sparse_sharing.devices import resolve_device
from sparse_sharing.errors import ConfigError
from sparse_sharing.training import trainer as trainer_module
from components.masks.test_mask_search import SEARCH, write_sparse_config


def test_auto_is_cuda_only_where_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_cuda_without_cuda_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="cuda:0 to cuda:0"):
        resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="not one of"):
        resolve_device("tpu")


def test_cuda_random_state_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved states are restored device by device; states of GPUs this machine lacks are dropped."""
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, index: restored.append((index, state)))
    states = [torch.tensor([1, 2], dtype=torch.uint8), torch.tensor([3], dtype=torch.uint8)]
    trainer_module._restore_cuda_rng(states)
    assert len(restored) == 1 and restored[0][0] == 0 and torch.equal(restored[0][1], states[0])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    trainer_module._restore_cuda_rng(states)  # a CPU machine ignores them
    assert len(restored) == 1


@pytest.fixture(scope="module")
def cpu_search_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    workdir = tmp_path_factory.mktemp("device")
    corpus = write_tiny_corpus(workdir / "data")
    base = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    config = write_sparse_config(workdir / "sparse.jsonnet", base, SEARCH)
    result = run_ssl("train", config, "-s", workdir / "run", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "device: cpu" in result.stderr
    return workdir, corpus


def test_sparse_pipeline_evaluate_and_predict_on_cpu(cpu_search_run: tuple[Path, dict[str, Path]]) -> None:
    workdir, corpus = cpu_search_run
    run_dir = workdir / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["device"] == "cpu" and metrics["finished"]
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cpu"
    evaluated = run_ssl("evaluate", run_dir, corpus["test"], "--device", "cpu")
    assert evaluated.returncode == 0, evaluated.stderr
    tokens = write_sentences(workdir / "tokens.txt", [["the", "cat"], ["sat"]], docstart=False)
    predicted = run_ssl("predict", run_dir, tokens, "--device", "cpu")
    assert predicted.returncode == 0, predicted.stderr
    assert len([line for line in predicted.stdout.splitlines() if line]) == 3


def test_resume_may_change_the_device_and_search_jobs(cpu_search_run: tuple[Path, dict[str, Path]]) -> None:
    """Properties of the machine, not of the experiment (a sweep resumes runs with masks.jobs=1)."""
    workdir, _ = cpu_search_run
    before = json.loads((workdir / "run" / "metrics.json").read_text())
    result = run_ssl("train", workdir / "sparse.jsonnet", "-s", workdir / "run", "--resume", "--device", "auto",
                     "-o", "masks.jobs=2")
    assert result.returncode == 0, result.stderr
    after = json.loads((workdir / "run" / "metrics.json").read_text())
    assert after["tasks"] == before["tasks"]
    assert json.loads((workdir / "run" / "config.json").read_text())["device"] == "auto"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
@pytest.mark.parametrize("command", ["train", "validate"])
def test_asking_for_cuda_without_it_exits_2(command: str, tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"))
    extra = ["-s", tmp_path / "run"] if command == "train" else []
    result = run_ssl(command, config, *extra, "--device", "cuda")
    assert result.returncode == 2
    assert "CUDA is not available" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_evaluate_on_cuda_without_it_exits_2(cpu_search_run: tuple[Path, dict[str, Path]]) -> None:
    workdir, corpus = cpu_search_run
    result = run_ssl("evaluate", workdir / "run", corpus["test"], "--device", "cuda:0")
    assert result.returncode == 2 and "CUDA is not available" in result.stderr
