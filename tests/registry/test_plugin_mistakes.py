"""Plugin mistakes through the real CLI: each is one message and exit 2 before anything is written,
and a plugin written against the old sampler contract still trains, with a warning.

The plugins are the ones of the issue that found these: a sampler of plugin API 1, a metric that
guesses its tags' type, a callback that guesses the trainer's attributes, a pruner that guesses
what ``scores`` returns, a sampler whose state checkpoints cannot hold.
"""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import run_ssl
from sparse_sharing import __version__
from sparse_sharing.registry import PLUGIN_API_VERSION

PLUGIN = '''
from typing import Literal

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.metrics.base import Metric
from sparse_sharing.components.pruners.pruners import Pruner, PruningScheduleConfig
from sparse_sharing.registry import CALLBACKS, METRICS, PRUNERS, SAMPLERS, ComponentConfig


def config(name):
    return type(f"{name}Config", (ComponentConfig,), {"__annotations__": {"type": Literal[name]}})


@SAMPLERS.register("old_round_robin", config=config("old_round_robin"))
class OldRoundRobin:
    """Written against plugin API 1: next_task() without the step and the epoch."""

    def __init__(self, config, sizes, seed):
        self.tasks, self.position = list(sizes), 0

    def next_task(self):
        self.position += 1
        return self.tasks[self.position % len(self.tasks)]

    def state_dict(self):
        return {"position": self.position}

    def load_state_dict(self, state):
        self.position = state["position"]


class Schedule:
    """Not a tensor, number, string, list or dict: checkpoints cannot hold it."""


@SAMPLERS.register("opaque", config=config("opaque"))
class Opaque(OldRoundRobin):
    def next_task(self, step, epoch):
        return self.tasks[step % len(self.tasks)]

    def state_dict(self):
        return {"schedule": Schedule()}


@METRICS.register("numeric_tags", config=config("numeric_tags"))
class NumericTags(Metric):
    def reset(self):
        self.total = 0

    def update(self, predicted, gold):
        self.total += sum(int(tag) for tags in gold for tag in tags)  # tags are strings like 'B-PER'

    def compute(self):
        return {"score": float(self.total)}


@CALLBACKS.register("lr_logger", config=config("lr_logger"))
class LearningRateLogger(Callback):
    def on_evaluation(self, trainer, record, improved):
        print(trainer.optimizer.param_groups[0]["lr"])  # it is trainer.optimizers, task -> optimizer


class ListScoresConfig(PruningScheduleConfig):
    type: Literal["list_scores"]


@PRUNERS.register("list_scores", config=ListScoresConfig)
class ListScores(Pruner):
    def scores(self, weights, mask):
        return [w.abs() for w in weights.values()]  # a dict name -> tensor is expected
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    (tmp_path / "mistakes").mkdir()
    (tmp_path / "mistakes" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


def ssl_with_plugin(plugin_dir: Path, *args: object) -> subprocess.CompletedProcess:
    return run_ssl(*args, "--include-package", "mistakes", cwd=plugin_dir)


def with_sampler(config: Path, sampler: str) -> Path:
    """The tiny config with a sampler named (it names none, and -o sets only keys that are there)."""
    text = config.read_text().replace("batch_size: 8,", f"batch_size: 8, sampler: {{ type: '{sampler}' }},")
    config.write_text(text)
    return config


def test_a_plugin_api_1_sampler_trains_with_one_deprecation_warning(plugin_dir: Path, tiny_config: Path) -> None:
    run_dir = plugin_dir / "run"
    result = ssl_with_plugin(plugin_dir, "train", with_sampler(tiny_config, "old_round_robin"), "-s", run_dir,
                             "-o", "trainer.num_epochs=1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("PluginDeprecationWarning") == 1
    assert "`next_task(self)` is the form of plugin API 1" in result.stderr
    assert "`next_task(self, step: int, epoch: int) -> str`" in result.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["finished"] is True


@pytest.mark.parametrize("override, expected", [
    ('tasks.pos.metric={"type": "numeric_tags"}',
     "plugin error: metric 'numeric_tags' (mistakes.NumericTags) raised ValueError in `update` at "),
    ('trainer.callbacks=[{"type": "lr_logger"}]',
     "plugin error: callback 'lr_logger' (mistakes.LearningRateLogger) raised AttributeError in `on_evaluation` at "),
])
def test_validate_runs_what_training_would_and_names_the_failing_plugin(plugin_dir: Path, tiny_config: Path,
                                                                        override: str, expected: str) -> None:
    result = ssl_with_plugin(plugin_dir, "validate", tiny_config, "-o", override)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "mistakes/__init__.py:" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run_ssl("--debug", "validate", tiny_config, "-o", override, "--include-package", "mistakes",
                    cwd=plugin_dir)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_validate_runs_the_pruner_of_a_mask_search(plugin_dir: Path, tiny_config: Path) -> None:
    masks = "masks: { type: 'search', steps_per_round: 1, pruner: { type: 'list_scores' } },"
    tiny_config.write_text(tiny_config.read_text().replace("seed: 7,", f"seed: 7, {masks}"))
    result = ssl_with_plugin(plugin_dir, "validate", tiny_config, "-o", 'model.sharing={"type": "sparse"}')
    assert result.returncode == 2, result.stderr
    assert ("pruner 'list_scores' (mistakes.ListScores): scores(weights, mask) must return a dict of every tensor's "
            "name") in result.stderr
    assert "it returned list" in result.stderr and "Traceback" not in result.stderr


def test_a_sampler_state_checkpoints_cannot_hold_is_refused_before_the_run_directory_exists(
        plugin_dir: Path, tiny_config: Path) -> None:
    run_dir = plugin_dir / "run"
    config = with_sampler(tiny_config, "opaque")
    for command in (("validate", config), ("train", config, "-s", run_dir)):
        result = ssl_with_plugin(plugin_dir, *command)
        assert result.returncode == 2, result.stderr
        assert "the state of sampler 'opaque' cannot be read back with torch.load(weights_only=True)" in result.stderr
    assert not run_dir.exists()


def test_a_class_that_does_not_fit_is_refused_when_the_plugin_loads(tmp_path: Path) -> None:
    (tmp_path / "wrong.py").write_text(PLUGIN.split("class Schedule")[0].replace(
        "def next_task(self):", "def next_task(self, step):"))
    result = run_ssl("components", "sampler", "--include-package", "wrong", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("sampler 'old_round_robin' (wrong.OldRoundRobin): `next_task(self, step)` cannot take the framework's "
            "call; the sampler contract has the contract's `next_task(self, step: int, epoch: int) -> str`"
            ) in result.stderr.replace("\n", " ")


def test_an_include_that_registers_nothing_says_so(tmp_path: Path) -> None:
    (tmp_path / "my_ext").mkdir()  # a folder without __init__.py: an empty namespace package
    result = run_ssl("components", "--include-package", "my_ext", cwd=tmp_path)
    assert result.returncode == 0  # said, not refused: a package may be imported for its side effects
    assert (f"--include-package my_ext imported 'my_ext' as a namespace package (a folder without __init__.py: "
            f"{tmp_path / 'my_ext'}) but it registered no component") in result.stderr


def test_ssl_version() -> None:
    result = run_ssl("--version")
    assert result.returncode == 0
    assert result.stdout.strip().endswith(f"{__version__} (plugin API {PLUGIN_API_VERSION})")


def test_a_plugin_written_for_a_newer_plugin_api_is_refused(tmp_path: Path) -> None:
    (tmp_path / "future.py").write_text(f"SPARSE_SHARING_PLUGIN_API = {PLUGIN_API_VERSION + 1}\n")
    result = run_ssl("components", "--include-package", "future", cwd=tmp_path)
    assert result.returncode == 2
    assert (f"--include-package future: future is written for plugin API {PLUGIN_API_VERSION + 1}, but this "
            f"sparse-sharing provides plugin API {PLUGIN_API_VERSION}: upgrade sparse-sharing") in result.stderr
