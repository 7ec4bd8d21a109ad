"""The catalogue of bad inputs: every one through the real ``ssl`` command exits 2 with one message
that names the culprit (a file, a line, a config path, a flag) and shows no traceback.

Classes: configs, overrides and flags; data files; checkpoints (damaged, foreign, hostile); mask
and mask-search files; plugins; run directories. Cases that need a trained run damage a copy of
one tiny hard-sharing run and one tiny sparse run, trained once for the module.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch

from conftest import read_sentences, run_ssl, write_sentences, write_tiny_config, write_tiny_corpus

SEARCH = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 1},
          "steps_per_round": 3, "warmup_steps": 3, "jobs": 1}


@dataclass
class Trained:
    workdir: Path
    corpus: dict[str, Path]
    config: Path
    hard: Path
    sparse_config: Path
    sparse: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    workdir = tmp_path_factory.mktemp("bad_inputs")
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    sparse_config = workdir / "sparse.jsonnet"
    sparse_config.write_text(f"(import 'tiny.jsonnet') + {{ model+: {{ sharing: {{ type: 'sparse' }} }}, "
                             f"masks: {json.dumps(SEARCH)} }}\n")
    for conf, name in ((config, "hard"), (sparse_config, "sparse")):
        result = run_ssl("train", conf, "-s", workdir / name)
        assert result.returncode == 0, result.stderr
    return Trained(workdir, corpus, config, workdir / "hard", sparse_config, workdir / "sparse")


@dataclass
class Case:
    """``args`` of the ``ssl`` command (built in ``tmp`` from the trained runs) and texts its message must hold."""

    tmp: Path
    t: Trained

    def run_copy(self, name: str = "hard") -> Path:
        target = self.tmp / f"copy-{name}"
        if not target.exists():
            shutil.copytree(getattr(self.t, name), target)
        return target

    def variant(self, patch: str, name: str = "variant.jsonnet") -> Path:
        path = self.t.workdir / f"{self.tmp.name}-{name}"
        path.write_text(f"(import 'tiny.jsonnet') + {patch}\n")
        return path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path


Build = Callable[[Case], tuple[list, list[str]]]
CATALOGUE: dict[str, list[tuple[str, Build]]] = {}


def case(kind: str) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CATALOGUE.setdefault(kind, []).append((build.__name__, build))
        return build
    return register


class Evil:
    """Unpickling this runs ``touch <marker>``: the safe loader must refuse it, never run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def hostile(path: Path, marker: Path) -> None:
    torch.save({"model": Evil(marker)}, path)


# ------------------------------------------------------------------ configs, overrides, flags
@case("config")
def config_is_a_directory(c: Case):
    return ["validate", c.tmp], ["config file not found", str(c.tmp)]


@case("config")
def config_is_a_list(c: Case):
    return ["validate", c.file("list.jsonnet", "[1, 2]")], ["list.jsonnet", "JSON object"]


@case("config")
def config_is_random_bytes(c: Case):
    return ["validate", c.file("noise.jsonnet", bytes(range(256)))], ["noise.jsonnet"]


@case("config")
def task_name_with_a_dot(c: Case):
    return ["validate", c.variant("{ tasks+: { 'n.er': super.ner } }")], ["tasks", "'n.er'", "pattern"]


@case("config")
def empty_task_name(c: Case):
    return ["train", c.variant("{ tasks+: { '': super.ner } }"), "-s", c.tmp / "run"], ["task name ''"]


@case("config")
def reserved_task_name(c: Case):
    return ["validate", c.variant("{ tasks+: { train: super.ner } }")], ["'train'", "reserved"]


@case("config")
def sparse_without_masks_block_validate(c: Case):
    return ["validate", c.variant("{ model+: { sharing: { type: 'sparse' } } }")], ["masks", "'sparse'", "needs"]


@case("config")
def train_tasks_unknown(c: Case):
    return ["validate", c.variant("{ train_tasks: ['nerr'] }")], ["train_tasks", "nerr"]


@case("config")
def zero_epochs(c: Case):
    return ["validate", c.variant("{ trainer+: { num_epochs: 0 } }")], ["trainer.num_epochs"]


@case("config")
def missing_library(c: Case):
    return ["validate", c.file("lib.jsonnet", "local l = import 'nowhere.libsonnet';\nl\n")], \
        ["lib.jsonnet:1", "nowhere.libsonnet"]


@case("config")
def jpath_not_a_directory(c: Case):
    return ["validate", c.t.config, "-J", c.tmp / "no_lib"], ["-J", "no_lib", "no such directory"]


@case("config")
def ext_var_without_value(c: Case):
    return ["validate", c.t.config, "--ext-var", "data_dir"], ["--ext-var 'data_dir'", "NAME=VALUE"]


@case("override")
def override_bad_json(c: Case):
    return ["validate", c.t.config, "-o", "{bad"], ["{bad"]


@case("override")
def override_wrong_type(c: Case):
    return ["validate", c.t.config, "-o", "trainer.batch_size=many"], ["trainer.batch_size"]


@case("override")
def override_unknown_task(c: Case):
    return ["validate", c.t.config, "-o", "tasks.nerr.train_path=x"], ["nerr"]


# ------------------------------------------------------------------ data files
def with_train(c: Case, path: Path) -> list:
    return ["validate", c.t.config, "-o", f"tasks.chunk.train_path={path}"]


@case("data")
def data_path_is_a_directory(c: Case):
    return with_train(c, c.tmp), ["directory", str(c.tmp)]


@case("data")
def data_not_utf8(c: Case):
    return with_train(c, c.file("latin1.txt", "Caf\xe9 NN B-NP O\n".encode("latin-1"))), ["latin1.txt:1", "UTF-8"]


@case("data")
def data_empty(c: Case):
    return with_train(c, c.file("empty.txt", "")), ["empty.txt", "empty"]


@case("data")
def data_only_docstart(c: Case):
    return with_train(c, c.file("doc.txt", "-DOCSTART- -X- O O\n\n")), ["doc.txt", "no sentences"]


@case("data")
def data_bad_bio_tag(c: Case):
    sentences = read_sentences(c.t.corpus["train"])
    first = list(sentences[0])
    word, pos, _, ner = first[0].split()
    first[0] = f"{word} {pos} Q-NP {ner}"
    path = write_sentences(c.tmp / "tags.txt", [first, *sentences[1:]])
    return with_train(c, path), ["tags.txt:3", "Q-NP"]


@case("data")
def evaluate_unseen_labels(c: Case):
    sentences = read_sentences(c.t.corpus["dev"])
    first = [" ".join([*line.split()[:3], "B-ALIEN"]) for line in sentences[0]]
    path = write_sentences(c.tmp / "alien.txt", [first, *sentences[1:]])
    return ["evaluate", c.t.hard, path, "--task", "ner"], ["alien.txt", "ALIEN", "never saw"]


@case("data")
def evaluate_wrong_columns(c: Case):
    return ["evaluate", c.t.hard, c.file("two.txt", "EU NNP\nrejects VBZ\n")], ["two.txt:1", "column"]


@case("data")
def predict_input_missing(c: Case):
    return ["predict", c.t.hard, c.tmp / "absent.txt"], ["data file not found", "absent.txt"]


# ------------------------------------------------------------------ checkpoints
def evaluate_with(c: Case, damage: Callable[[Path], None]) -> list:
    run = c.run_copy()
    damage(run / "checkpoints" / "best-ner.pt")
    return ["evaluate", run, c.t.corpus["dev"], "--task", "ner"]


@case("checkpoint")
def checkpoint_zero_bytes(c: Case):
    return evaluate_with(c, lambda p: p.write_bytes(b"")), ["best-ner.pt", "empty"]


@case("checkpoint")
def checkpoint_truncated(c: Case):
    return evaluate_with(c, lambda p: p.write_bytes(p.read_bytes()[:1000])), ["best-ner.pt", "damaged"]


@case("checkpoint")
def checkpoint_random_bytes(c: Case):
    return evaluate_with(c, lambda p: p.write_bytes(os.urandom(4096))), ["best-ner.pt", "damaged"]


@case("checkpoint")
def checkpoint_with_code(c: Case):
    return evaluate_with(c, lambda p: hostile(p, c.tmp / "pwned")), ["best-ner.pt", "posix.system", "refuses"]


@case("checkpoint")
def checkpoint_plain_pickle(c: Case):
    return evaluate_with(c, lambda p: p.write_bytes(pickle.dumps({"model": 1}))), ["best-ner.pt", "not a torch file"]


@case("checkpoint")
def checkpoint_of_another_model(c: Case):
    def other_shapes(path: Path) -> None:
        state = torch.load(path, weights_only=True)
        torch.save({k: torch.zeros(3, 3) for k in state}, path)
    return evaluate_with(c, other_shapes), ["best-ner.pt", "does not fit"]


@case("checkpoint")
def checkpoint_not_a_state_dict(c: Case):
    return evaluate_with(c, lambda p: torch.save([1, 2, 3], p)), ["best-ner.pt", "does not fit"]


def resume_with(c: Case, damage: Callable[[Path], None]) -> list:
    run = c.run_copy()
    damage(run / "checkpoints" / "last.pt")
    return ["train", c.t.config, "-s", run, "--resume", "-o", "trainer.num_epochs=2"]


@case("checkpoint")
def last_checkpoint_truncated(c: Case):
    return resume_with(c, lambda p: p.write_bytes(p.read_bytes()[:2000])), ["last.pt", "damaged"]


@case("checkpoint")
def last_checkpoint_with_code(c: Case):
    return resume_with(c, lambda p: hostile(p, c.tmp / "pwned")), ["last.pt", "refuses"]


@case("checkpoint")
def last_checkpoint_without_entries(c: Case):
    return resume_with(c, lambda p: torch.save({"epoch": 1}, p)), ["last.pt", "no 'model' entry"]


@case("checkpoint")
def last_checkpoint_of_another_model(c: Case):
    def other_shapes(path: Path) -> None:
        state = torch.load(path, weights_only=True)
        state["model"] = {k: torch.zeros(2) for k in state["model"]}
        torch.save(state, path)
    return resume_with(c, other_shapes), ["last.pt", "does not fit"]


# ------------------------------------------------------------------ masks and mask-search files
def masks_with(c: Case, damage: Callable[[Path], None]) -> list:
    run = c.run_copy("sparse")
    damage(run / "masks" / "ner.pt")
    return ["masks", run]


@case("masks")
def mask_zero_bytes(c: Case):
    return masks_with(c, lambda p: p.write_bytes(b"")), ["masks/ner.pt", "empty"]


@case("masks")
def mask_random_bytes(c: Case):
    return masks_with(c, lambda p: p.write_bytes(os.urandom(999))), ["masks/ner.pt", "damaged"]


@case("masks")
def mask_with_code(c: Case):
    return masks_with(c, lambda p: hostile(p, c.tmp / "pwned")), ["masks/ner.pt", "refuses"]


@case("masks")
def mask_of_another_model_on_resume(c: Case):
    run = c.run_copy("sparse")
    mask = torch.load(run / "masks" / "ner.pt", weights_only=True)
    torch.save({k: torch.ones(2, 2, dtype=torch.bool) for k in mask}, run / "masks" / "ner.pt")
    return ["train", c.t.sparse_config, "-s", run, "--resume"], ["masks/ner.pt", "shape"]


def search_again_with(c: Case, damage: Callable[[Path], None]) -> list:
    """Masks deleted, so the resume reads back the search's files."""
    run = c.run_copy("sparse")
    shutil.rmtree(run / "masks")
    (run / "checkpoints" / "last.pt").unlink()
    damage(run / "mask_search")
    return ["train", c.t.sparse_config, "-s", run, "--resume"]


@case("masks")
def warmup_truncated(c: Case):
    return search_again_with(c, lambda d: (d / "warmup.pt").write_bytes(b"PK\x03\x04")), ["warmup.pt", "damaged"]


@case("masks")
def round_file_with_code(c: Case):
    return search_again_with(c, lambda d: hostile(d / "ner" / "round_00.pt", c.tmp / "pwned")), \
        ["round_00.pt", "refuses"]


@case("masks")
def round_file_foreign(c: Case):
    return search_again_with(c, lambda d: torch.save({"mask": {}}, d / "ner" / "round_00.pt")), \
        ["round_00.pt", "does not hold this run's masks"]


@case("masks")
def round_record_damaged(c: Case):
    return search_again_with(c, lambda d: (d / "ner" / "round_00.json").write_text("{")), \
        ["round_00.json", "damaged"]


@case("masks")
def masks_from_run_without_masks(c: Case):
    config = c.variant(f"{{ model+: {{ sharing: {{ type: 'sparse' }} }}, "
                       f"masks: {{ type: 'from_run', path: {json.dumps(str(c.t.hard))} }} }}")
    return ["train", config, "-s", c.tmp / "run"], ["no mask for task", "masks"]


# ------------------------------------------------------------------ plugins
def plugin(c: Case, source: str) -> list:
    (c.tmp / "bad_plugin.py").write_text(source)
    return ["--include-package", "bad_plugin"]


@case("plugin")
def plugin_raises(c: Case):
    return ["components", *plugin(c, "x = 1\nraise RuntimeError('plugin is broken')\n")], \
        ["bad_plugin", "bad_plugin.py:2", "plugin is broken"]


@case("plugin")
def plugin_syntax_error(c: Case):
    return ["components", *plugin(c, "def f(:\n    pass\n")], ["bad_plugin", "bad_plugin.py:1", "SyntaxError"]


@case("plugin")
def plugin_missing_dependency(c: Case):
    return ["components", *plugin(c, "import no_such_dependency_xyz\n")], \
        ["bad_plugin", "no_such_dependency_xyz", "not installed"]


@case("plugin")
def plugin_does_not_exist(c: Case):
    return ["validate", c.t.config, "--include-package", "no_such_plugin_xyz"], ["no_such_plugin_xyz"]


# ------------------------------------------------------------------ run directories
@case("run_dir")
def serialization_dir_is_a_file(c: Case):
    return ["train", c.t.config, "-s", c.file("taken", "x")], ["taken", "is a file"]


@case("run_dir")
def serialization_dir_inside_a_file(c: Case):
    return ["train", c.t.config, "-s", c.file("taken", "x") / "run"], ["cannot create", "taken"]


@case("run_dir")
def resume_and_force(c: Case):
    return ["train", c.t.config, "-s", c.run_copy(), "--resume", "--force"], ["--resume and --force"]


@case("run_dir")
def evaluate_not_a_run(c: Case):
    return ["evaluate", c.tmp, "dev"], ["not a run directory", str(c.tmp)]


@case("run_dir")
def run_config_damaged(c: Case):
    run = c.run_copy()
    (run / "config.json").write_text('{"seed": ')
    return ["evaluate", run, c.t.corpus["dev"]], ["config.json", "damaged"]


@case("run_dir")
def run_vocabulary_foreign(c: Case):
    run = c.run_copy()
    (run / "vocabulary.json").write_text('{"words": []}')
    return ["predict", run, c.t.corpus["dev"]], ["vocabulary.json", "not a vocabulary"]


@case("run_dir")
def resume_with_another_config(c: Case):
    return ["train", c.t.config, "-s", c.run_copy(), "--resume", "-o", "trainer.batch_size=4"], \
        ["cannot resume", "differs"]


@case("run_dir")
def predict_unknown_task(c: Case):
    return ["predict", c.t.hard, c.t.corpus["dev"], "--task", "nerr"], ["no task 'nerr'", "Did you mean 'ner'?"]


@case("run_dir")
def output_inside_a_file(c: Case):
    return ["predict", c.t.hard, c.t.corpus["dev"], "--output", c.file("taken", "x") / "out.txt"], \
        ["cannot write", "out.txt"]


# ------------------------------------------------------------------ devices
@case("device")
def device_not_a_device(c: Case):
    return ["validate", c.t.config, "--device", "tpu"], ["tiny.jsonnet", "device:", "cuda"]


@case("device")
def device_that_does_not_exist(c: Case):
    """Not there on any machine: without CUDA, CUDA is missing; with it, there is no 99th card."""
    return ["train", c.t.config, "-s", c.tmp / "run", "--device", "cuda:99"], ["device 'cuda:99'"]


@case("device")
def device_in_config_misspelt(c: Case):
    return ["predict", c.t.hard, c.t.corpus["dev"], "--device", "gpu"], ["device 'gpu'"]


CASES = [(kind, name, build) for kind, builds in CATALOGUE.items() for name, build in builds]


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert {"config", "override", "data", "checkpoint", "masks", "plugin", "run_dir", "device"} <= set(CATALOGUE)


@pytest.mark.parametrize("kind, name, build", CASES, ids=[f"{kind}-{name}" for kind, name, _ in CASES])
def test_bad_input(trained: Trained, tmp_path: Path, kind: str, name: str, build: Build) -> None:
    args, expected = build(Case(tmp_path, trained))
    result = run_ssl(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr[result.stderr.find("Error: "):]
    assert message.startswith("Error: "), result.stderr
    for text in expected:
        assert text in message, message
    assert not (tmp_path / "pwned").exists(), "a pickled command ran"
    if args[0] == "train" and "--resume" not in args:
        assert not (tmp_path / "run").exists(), "a refused start left a directory behind"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_ssl("--debug", "validate", tmp_path / "absent.jsonnet")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "Error: config file not found" in result.stderr


def test_refused_sparse_start_leaves_no_directory(trained: Trained, tmp_path: Path) -> None:
    config = tmp_path / "sparse_no_masks.jsonnet"
    config.write_text(f"(import {json.dumps(str(trained.config))}) + "
                      f"{{ model+: {{ sharing: {{ type: 'sparse' }} }} }}\n")
    run_dir = tmp_path / "run"
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 2 and "needs a `masks` block" in result.stderr
    assert not run_dir.exists()
    fixed = run_ssl("validate", trained.sparse_config)
    assert fixed.returncode == 0, fixed.stderr
