"""``ssl train --resume``: an interrupted run ends exactly where an uninterrupted one does.

The interruption is a plugin callback, ``crash_once``, listed before the checkpoint
callback: at the end of epoch 2 it raises KeyboardInterrupt (as Ctrl-C would) unless its
marker file exists, creating the marker first. So the crash comes after epoch 2's
evaluation but before epoch 2's ``last.pt``; the resumed run starts from the epoch-1
checkpoint and must redo epoch 2 with the same random state. The reference run uses the
same config with the marker already present, so it never crashes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DEFAULT_CALLBACKS, run_ssl, write_tiny_config, write_tiny_corpus

PLUGIN = '''
"""Interrupts training once, at the end of epoch 2; or as training starts, where the environment
says CRASH_AT_TRAIN_START (the config, which a resume must keep, stays the same)."""
import os
from pathlib import Path
from typing import Literal

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.registry import CALLBACKS, ComponentConfig


class CrashOnceConfig(ComponentConfig):
    type: Literal["crash_once"]
    marker: str


@CALLBACKS.register("crash_once", config=CrashOnceConfig)
class CrashOnce(Callback):
    def __init__(self, config: CrashOnceConfig) -> None:
        self.marker = Path(config.marker)

    def on_train_start(self, trainer) -> None:
        if os.environ.get("CRASH_AT_TRAIN_START"):
            raise KeyboardInterrupt

    def on_epoch_end(self, trainer) -> None:
        if trainer.epoch == 2 and not self.marker.exists():
            self.marker.touch()
            raise KeyboardInterrupt
'''


@dataclass
class Runs:
    workdir: Path
    config: Path
    reference: Path
    interrupted: subprocess.CompletedProcess
    checkpoint_epoch_after_crash: int
    metrics_after_crash: dict
    resumed: subprocess.CompletedProcess
    resumed_dir: Path


def ssl(workdir: Path, *args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_ssl(*args, "--include-package", "crash_plugin", cwd=workdir, env=env)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    import torch

    workdir = tmp_path_factory.mktemp("resume")
    (workdir / "crash_plugin").mkdir()
    (workdir / "crash_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    marker = workdir / "crashed.marker"
    callbacks = [{"type": "crash_once", "marker": str(marker)}, *DEFAULT_CALLBACKS]
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=3, callbacks=callbacks)

    marker.touch()
    reference = workdir / "reference"
    result = ssl(workdir, "train", config, "-s", reference)
    assert result.returncode == 0, result.stderr

    marker.unlink()
    run_dir = workdir / "run"
    interrupted = ssl(workdir, "train", config, "-s", run_dir)
    assert marker.exists(), interrupted.stderr
    last = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    metrics_after_crash = json.loads((run_dir / "metrics.json").read_text())

    resumed = ssl(workdir, "train", config, "-s", run_dir, "--resume")
    return Runs(workdir, config, reference, interrupted, last["epoch"], metrics_after_crash, resumed, run_dir)


def test_interrupted_run_exits_130_and_suggests_resume(runs: Runs) -> None:
    assert runs.interrupted.returncode == 130
    assert "--resume" in runs.interrupted.stderr
    assert "Traceback" not in runs.interrupted.stderr
    assert runs.checkpoint_epoch_after_crash == 1
    # Epoch 2 was evaluated before the crash, but only epoch 1's state was checkpointed.
    assert runs.metrics_after_crash["finished"] is False
    assert [record["epoch"] for record in runs.metrics_after_crash["history"]] == [1, 2]


def test_resumed_run_matches_uninterrupted_run(runs: Runs) -> None:
    assert runs.resumed.returncode == 0, runs.resumed.stderr
    reference = json.loads((runs.reference / "metrics.json").read_text())
    resumed = json.loads((runs.resumed_dir / "metrics.json").read_text())
    assert resumed["finished"] is True
    assert resumed["epochs_completed"] == reference["epochs_completed"] == 3
    assert resumed["steps"] == reference["steps"]
    assert resumed["history"] == reference["history"]
    assert resumed["tasks"] == reference["tasks"]
    assert "resumed after epoch 1" in (runs.resumed_dir / "train.log").read_text()


@pytest.mark.parametrize("override, message", [
    ("trainer.batch_size=3", "config differs"),
    ("trainer.num_epochs=2", "it has completed 3 epochs already"),
])
def test_resume_with_a_different_config_is_refused(runs: Runs, override: str, message: str) -> None:
    before = {name: (runs.resumed_dir / name).read_text() for name in ("metrics.json", "config.json")}
    result = ssl(runs.workdir, "train", runs.config, "-s", runs.resumed_dir, "--resume", "-o", override)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert {name: (runs.resumed_dir / name).read_text() for name in before} == before


def test_lowering_num_epochs_to_the_epochs_done_closes_an_interrupted_run(runs: Runs, tmp_path: Path) -> None:
    """As if a run planned for 5 epochs was interrupted after its 3rd."""
    closed = tmp_path / "closed"
    shutil.copytree(runs.resumed_dir, closed)
    metrics = json.loads((closed / "metrics.json").read_text())
    (closed / "metrics.json").write_text(json.dumps({**metrics, "finished": False}))
    config = json.loads((closed / "config.json").read_text())
    config["trainer"]["num_epochs"] = 5
    (closed / "config.json").write_text(json.dumps(config))
    result = ssl(runs.workdir, "train", runs.config, "-s", closed, "--resume", "-o", "trainer.num_epochs=3")
    assert result.returncode == 0, result.stderr
    after = json.loads((closed / "metrics.json").read_text())
    assert after["finished"] is True
    assert after["history"] == metrics["history"] and after["tasks"] == metrics["tasks"]
    assert json.loads((closed / "config.json").read_text())["trainer"]["num_epochs"] == 3


def test_raising_num_epochs_extends_a_finished_run(runs: Runs) -> None:
    """An extended run equals one planned that long from the start."""
    extended = runs.workdir / "extended"
    shutil.copytree(runs.reference, extended)
    result = ssl(runs.workdir, "train", runs.config, "-s", extended, "--resume", "-o", "trainer.num_epochs=4")
    assert result.returncode == 0, result.stderr
    planned = runs.workdir / "planned"
    result = ssl(runs.workdir, "train", runs.config, "-s", planned, "-o", "trainer.num_epochs=4")
    assert result.returncode == 0, result.stderr
    extended_metrics = json.loads((extended / "metrics.json").read_text())
    planned_metrics = json.loads((planned / "metrics.json").read_text())
    assert extended_metrics["epochs_completed"] == 4
    assert extended_metrics["history"] == planned_metrics["history"]
    assert extended_metrics["tasks"] == planned_metrics["tasks"]
    assert json.loads((extended / "config.json").read_text()) == json.loads((planned / "config.json").read_text())


def test_an_extension_stopped_before_its_first_new_epoch_is_not_finished(runs: Runs) -> None:
    """Raising num_epochs rewrites config.json as the extension starts; from then on metrics.json
    must not say "finished" (it did, until the first new evaluation), or a sweep that reads the two
    would skip the extension as done, at the old number of epochs."""
    extended = runs.workdir / "extended-stopped"
    shutil.copytree(runs.reference, extended)
    stopped = ssl(runs.workdir, "train", runs.config, "-s", extended, "--resume", "-o", "trainer.num_epochs=4",
                  env={"CRASH_AT_TRAIN_START": "1"})
    assert stopped.returncode == 130, stopped.stderr
    assert json.loads((extended / "config.json").read_text())["trainer"]["num_epochs"] == 4
    metrics = json.loads((extended / "metrics.json").read_text())
    assert metrics["finished"] is False and metrics["epochs_completed"] == 3
    result = ssl(runs.workdir, "train", runs.config, "-s", extended, "--resume", "-o", "trainer.num_epochs=4")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((extended / "metrics.json").read_text())
    assert metrics["finished"] is True and metrics["epochs_completed"] == 4
