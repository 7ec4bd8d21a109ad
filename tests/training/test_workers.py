"""Worker processes of a mask search (``training/workers.py``): a plugin mask source's log lines
reach the terminal and the run's log from ``--jobs`` workers as from the run's own process, and
so do those of any other plugin component the config names (a callback here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.components.masks.search import IterativePruningSearch
from sparse_sharing.components.masks.source import MaskSource
from sparse_sharing.components.optim.optimizers import build_sgd
from sparse_sharing.training.workers import component_loggers

PLUGIN = '''
import logging
from typing import Literal

import torch

from sparse_sharing.components.masks.source import MaskSource
from sparse_sharing.registry import MASK_SOURCES, ComponentConfig

logger = logging.getLogger(__name__)


class KeepAllConfig(ComponentConfig):
    type: Literal["logged_keep_all"]
    jobs: int = 1


@MASK_SOURCES.register("logged_keep_all", config=KeepAllConfig)
class KeepAll(MaskSource):
    needs_rewind_point = False

    def __init__(self, config: KeepAllConfig) -> None:
        self.jobs = config.jobs

    def find(self, task, context):
        logger.info("logged_keep_all kept everything for %s", task)
        return ({name: torch.ones(shape, dtype=torch.bool) for name, shape in context.mask_shapes().items()},
                {"source": "logged_keep_all"})
'''

# In a module of its own: a logger the mask source's does not already cover.
CALLBACK_PLUGIN = '''
import logging
from typing import Literal

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.registry import CALLBACKS, ComponentConfig

logger = logging.getLogger(__name__)


class GreetingConfig(ComponentConfig):
    type: Literal["logged_greeting"]


@CALLBACKS.register("logged_greeting", config=GreetingConfig)
class Greeting(Callback):
    def on_train_start(self, trainer):
        logger.info("logged_greeting: joint training starts")
'''


def test_a_component_logs_to_its_modules_and_its_bases_in_the_package() -> None:
    assert component_loggers(IterativePruningSearch) == ("sparse_sharing.components.masks.search",
                                               "sparse_sharing.components.masks.candidates",
                                               "sparse_sharing.components.masks.source")

    class Plugin(MaskSource):
        def find(self, task, context):  # pragma: no cover - never called
            raise NotImplementedError

    assert component_loggers(Plugin) == (__name__, "sparse_sharing.components.masks.source")
    assert component_loggers(build_sgd) == ("sparse_sharing.components.optim.optimizers",)  # a function factory


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_plugin_sources_log_lines_are_shown_from_workers_too(jobs: int, tmp_path: Path) -> None:
    (tmp_path / "logged_source.py").write_text(PLUGIN, encoding="utf-8")
    (tmp_path / "logged_callback.py").write_text(CALLBACK_PLUGIN, encoding="utf-8")
    write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"), num_epochs=1,
                      callbacks=[{"type": "checkpoint"}, {"type": "logged_greeting"}])
    (tmp_path / "sparse.jsonnet").write_text(
        "(import 'tiny.jsonnet') + { model+: { sharing: { type: 'sparse' } }, "
        f"masks: {{ type: 'logged_keep_all', jobs: {jobs} }} }}\n", encoding="utf-8")
    result = run_ssl("train", "sparse.jsonnet", "-s", "run", "--include-package", "logged_source",
                     "--include-package", "logged_callback", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    for task in ("pos", "chunk", "ner"):
        line = f"logged_keep_all kept everything for {task}"
        assert line in result.stderr and line in log
    assert "logged_greeting: joint training starts" in result.stderr and "logged_greeting: joint training starts" in log
