"""What metrics.json and config.json record about how a run was made: the code, torch and machine
of every process that trained it, its time split (current in an unfinished run too), and the
search's parallelism as it ran."""
from __future__ import annotations

import json
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.training import trainer as trainer_module
from sparse_sharing.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]


class MetricsAtEpochEnd(Callback):
    """Reads metrics.json as an outside reader would, after each epoch's evaluation wrote it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_epoch_end(self, trainer: Any) -> None:
        self.seen.append(json.loads(trainer.paths.metrics.read_text()))


class TickingClock:
    """``time.monotonic`` that moves one second a call: a tiny run on a fast machine takes less than the
    0.1 s metrics.json rounds to, so real time would make the figures below 0.0 there (as CI's did)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_an_unfinished_run_reports_its_time_so_far(tmp_path: Path, tiny_config: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "time", TickingClock())
    _, config = load_experiment(tiny_config)
    experiment = build_experiment(config)
    spy = MetricsAtEpochEnd()
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, RunPaths(tmp_path / "run"), [spy],
                      experiment.tasks, device=experiment.device)
    final = trainer.train()
    first, second = spy.seen
    assert not first["finished"] and first["epochs_completed"] == 1
    # Before the fix the first evaluation wrote the time of the epoch before it: 0.0.
    assert 0 < first["training_seconds"] <= second["training_seconds"] <= final["training_seconds"]
    assert 0 < trainer.evaluation_seconds < trainer.elapsed
    for metrics in (first, second, final):
        split = metrics["wall_seconds"]
        assert split["evaluation"] >= 0 and split["training"] > 0
        assert abs(split["training"] + split["evaluation"] - metrics["training_seconds"]) <= 0.11


def git(*args: str) -> str | None:
    result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def test_every_process_that_trained_a_run_is_recorded(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"), num_epochs=1)
    run_dir = tmp_path / "run"
    assert run_ssl("train", config, "-s", run_dir).returncode == 0
    extended = run_ssl("train", config, "-s", run_dir, "--resume", "-o", "trainer.num_epochs=2")
    assert extended.returncode == 0, extended.stderr
    records = json.loads((run_dir / "metrics.json").read_text())["provenance"]
    assert [(r["from_epoch"], r["from_step"] > 0) for r in records] == [(0, False), (1, True)]
    for record in records:
        assert record["torch"] == str(torch.__version__) and record["device"] == "cpu" and record["cpu"]
        assert record["cpu_kernels"] == torch.backends.cpu.get_cpu_capability()
        if Path("/proc/cpuinfo").is_file() and platform.machine() == "x86_64":  # what tells one "AMD EPYC" from another
            assert re.fullmatch(r"family \d+ model \d+ stepping \d+", record["cpu_signature"])
        assert record["python"] and record["started"].endswith("Z")
    head = git("rev-parse", "HEAD")
    if head is not None and git("rev-parse", "--show-toplevel") == str(REPO):  # an editable checkout
        assert records[0]["commit"] in (head, f"{head}-dirty")


def test_config_json_says_how_many_tasks_the_search_ran_at_once(tmp_path: Path) -> None:
    base = write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"), num_epochs=1)
    search = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 1}, "steps_per_round": 2,
              "warmup_steps": 2, "jobs": 2}
    config = tmp_path / "sparse.jsonnet"
    config.write_text(f"(import 'tiny.jsonnet') + {{ model+: {{ sharing: {{ type: 'sparse' }} }}, "
                      f"masks: {json.dumps(search)} }}\n")
    result = run_ssl("train", config, "-s", tmp_path / "run", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["masks"]["jobs"] == 1
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["masks"]["jobs"] == 1
    assert set(metrics["masks"]["search_seconds"]) == {"pos", "chunk", "ner"}
    assert isinstance(metrics["masks"]["warmup_seconds"], float)  # rounded to 0.1 s: two steps may show 0.0
    assert "1 task(s) at a time" in result.stderr
