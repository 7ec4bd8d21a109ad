"""A user's mistake through the real ``ssl`` command: exit code 2, a short message that names
the problem (path in the config, file and line), and never a traceback.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from conftest import read_sentences, run_ssl, write_sentences

Setup = Callable[[Path, Path, dict], list]


def error_message(result: subprocess.CompletedProcess) -> str:
    """The ``Error:`` part of stderr (``ssl train`` may log a line or two before it)."""
    assert "Traceback" not in result.stderr, result.stderr
    start = result.stderr.find("Error: ")
    assert start >= 0, result.stderr
    return result.stderr[start:]


def variant(tmp_path: Path, name: str, patch: str) -> Path:
    """A config that imports the tiny one and changes it, the way a user's experiment file would."""
    path = tmp_path / name
    path.write_text(f"(import 'tiny.jsonnet') + {patch}\n")
    return path


def typo_key(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [variant(tmp_path, "typo.jsonnet", "{ model+: { encoder+: { hidden_sise: 8 } } }")]


def wrong_type(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [variant(tmp_path, "type.jsonnet", "{ model+: { encoder+: { hidden_size: 'big' } } }")]


def unknown_sharing(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [variant(tmp_path, "sharing.jsonnet", "{ model+: { sharing: { type: 'hardd' } } }")]


def bad_override(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [config, "-o", "trainer.num_epoch=3"]


def jsonnet_syntax(tmp_path: Path, config: Path, corpus: dict) -> list:
    path = tmp_path / "broken.jsonnet"
    path.write_text("{\n  seed: 1,\n  tasks: { pos: [1, 2 },\n}\n")
    return [path]


def missing_ext_var(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [variant(tmp_path, "ext.jsonnet", "{ seed: std.parseInt(std.extVar('seed')) }")]


def missing_config(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [tmp_path / "no_such_config.jsonnet"]


def missing_data(tmp_path: Path, config: Path, corpus: dict) -> list:
    return [config, "-o", f"tasks.ner.dev_path={tmp_path / 'nowhere' / 'dev.txt'}"]


def malformed_conll(tmp_path: Path, config: Path, corpus: dict) -> list:
    """Line 7 of the file (the 5th token of the first sentence, after the DOCSTART and a blank) loses a column."""
    sentences = read_sentences(corpus["train"])
    first = list(sentences[0])
    first[4] = " ".join(first[4].split()[:3])
    path = write_sentences(tmp_path / "bad_train.txt", [first, *sentences[1:]])
    return [config, "-o", f"tasks.chunk.train_path={path}"]


CASES: list[tuple[Setup, list[str]]] = [
    (typo_key, ["model.encoder.hidden_sise", "Did you mean 'hidden_size'?"]),
    (wrong_type, ["model.encoder.hidden_size", "expected an integer, got 'big'"]),
    (unknown_sharing, ["model.sharing.type", "'hardd' is not a registered sharing", "Did you mean 'hard'?"]),
    (bad_override, ["trainer.num_epoch=3", "no key 'num_epoch'", "Did you mean 'num_epochs'?"]),
    (jsonnet_syntax, ["broken.jsonnet:3:"]),
    (missing_ext_var, ["std.extVar('seed') is not set", "--ext-var seed=VALUE"]),
    (missing_config, ["config file not found", "no_such_config.jsonnet"]),
    (missing_data, ["data file not found", str(Path("nowhere") / "dev.txt")]),
    (malformed_conll, ["bad_train.txt:7:", "expected 4 columns"]),
]


@pytest.mark.parametrize("setup, expected", CASES, ids=[setup.__name__ for setup, _ in CASES])
def test_config_and_data_errors(tmp_path: Path, tiny_config: Path, tiny_corpus: dict, setup: Setup,
                                expected: list[str]) -> None:
    args = setup(tmp_path, tiny_config, tiny_corpus)
    result = run_ssl("train", args[0], "-s", tmp_path / "run", *args[1:])
    assert result.returncode == 2, result.stderr
    message = error_message(result)
    for text in expected:
        assert text in message, message
    assert len(message.strip().splitlines()) <= 4, message


def test_non_empty_run_dir_needs_resume_or_force(tmp_path: Path, tiny_config: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("someone else's files\n")
    result = run_ssl("train", tiny_config, "-s", run_dir)
    assert result.returncode == 2
    message = error_message(result)
    assert "not empty" in message and "--resume" in message and "--force" in message
    assert (run_dir / "notes.txt").is_file()  # nothing was deleted


def test_resume_of_empty_dir_is_refused(tmp_path: Path, tiny_config: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_ssl("train", tiny_config, "-s", run_dir, "--resume")
    assert result.returncode == 2
    assert "cannot resume" in error_message(result)


def test_validate_prints_parameter_counts(tiny_config: Path) -> None:
    result = run_ssl("validate", tiny_config)
    assert result.returncode == 0, result.stderr
    assert f"{tiny_config}: OK" in result.stdout
    assert re.search(r"parameters: [\d,]+ in the paper's convention .*, [\d,]+ in total", result.stdout), result.stdout
    for task in ("pos", "chunk", "ner"):
        assert f"  {task}: train 40, dev 15, test 15 sentences" in result.stdout


def test_schema_is_json() -> None:
    result = run_ssl("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert {"tasks", "model", "trainer"} <= set(schema["properties"])
