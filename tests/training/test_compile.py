"""``trainer.compile``: the compiled head loss computes what the eager one does (loss and every
gradient, for every sharing strategy, CRF and softmax heads), keeps sparse steps inside their
masks, falls back to eager in one line when compiling fails, and is how a run computes, not what
it is (``--resume`` may change it, ``ssl compare`` does not split rows by it). The compiled
decoding gives the tags eager decoding gives, in every bucket and above the largest.

Compiling is slow on a busy CPU, so every model here has the same tiny head shapes (one graph per
head kind, reused from Inductor's cache), and the runs through the CLI train one CRF task.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from functools import partial
from pathlib import Path
from typing import Callable

import pytest
import torch

import tiny_trunks
from conftest import ner_only_config, read_metrics, run_ssl, write_tiny_corpus
from sparse_sharing.analysis.compare import compare
from sparse_sharing.components.data.batching import Batch
from sparse_sharing.registry import HEADS
from sparse_sharing.training import compiled as compiled_module
from sparse_sharing.training.compiled import CompiledHeads, bucket, compile_cache_dir, padded_to
from sparse_sharing.training.model import MultiTaskTagger
from components.sharing.test_sparse_sharing import random_masks

TASKS = ["ner", "pos"]
LABELS = {"ner": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], "pos": ["DT", "NN", "VB", "IN"]}
HEAD_OF = {"ner": "crf", "pos": "softmax"}
STRATEGIES = {
    "hard": {}, "sparse": {}, "single": {}, "hierarchical": {"task_layers": {"ner": 2, "pos": 1}},
    "cross_stitch": {"init_self": 0.8}, "sluice": {"subspaces": 2},
}


@pytest.fixture(scope="module", autouse=True)
def inductor_cache(tmp_path_factory: pytest.TempPathFactory):
    """Inductor's cache in a temporary folder: the tests leave nothing in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
        yield os.environ["TORCHINDUCTOR_CACHE_DIR"]


def test_the_compile_cache_is_in_the_users_cache_unless_set(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_dir() == tmp_path / "sparse-sharing" / "inductor"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache_dir() == tmp_path / "mine"


def tiny_model(sharing_type: str) -> MultiTaskTagger:
    sharing = tiny_trunks.strategy(sharing_type, TASKS, distinct=True, hidden_size=4, **STRATEGIES[sharing_type])
    if sharing_type == "sparse":
        sharing.set_masks(random_masks(sharing))
    torch.manual_seed(1)
    heads = {task: HEADS.build(tiny_trunks.config(HEADS, HEAD_OF[task]), input_dim=sharing.output_dim(task),
                               labels=LABELS[task], tag_scheme="bio" if task == "ner" else "none")
             for task in TASKS}
    return MultiTaskTagger(sharing, heads)


def tagged_batch(seed: int, task: str) -> Batch:
    batch = tiny_trunks.batch(seed)
    tags = torch.randint(0, len(LABELS[task]), batch.padding_mask.shape, generator=torch.Generator().manual_seed(seed))
    if task == "ner":  # a valid BIO sequence is not needed: the loss is defined for any tags
        tags[:, 0] = 0
    return dataclasses.replace(batch, tags=tags.masked_fill(~batch.padding_mask, 0))


def loss_and_gradients(model: MultiTaskTagger, batch: Batch, task: str, head_loss=None):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = model.loss(batch, task, head_loss)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return loss.detach(), [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def test_buckets_and_padding() -> None:
    assert [bucket(n) for n in (1, 16, 17, 32, 33, 64, 65)] == [16, 16, 32, 32, 64, 64, None]
    features, tags, mask = torch.ones(2, 3, 4), torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool)
    padded = padded_to(16, features, tags, mask)
    assert [tuple(t.shape) for t in padded] == [(2, 16, 4), (2, 16), (2, 16)]
    assert torch.equal(padded[0][:, :3], features) and not padded[0][:, 3:].any()
    assert torch.equal(padded[2][:, :3], mask) and not padded[2][:, 3:].any()


@pytest.mark.parametrize("sharing_type", list(STRATEGIES))
def test_compiled_head_loss_equals_eager_loss_and_every_gradient(sharing_type: str) -> None:
    model = tiny_model(sharing_type)
    model.train()
    compiled = CompiledHeads(model.heads)
    for task in TASKS:
        batch = tagged_batch(3, task)
        eager_loss, eager_grads = loss_and_gradients(model, batch, task)
        compiled_loss, compiled_grads = loss_and_gradients(model, batch, task, partial(compiled.loss, task))
        assert compiled.failure is None
        torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-5, atol=1e-7)
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        for name, a, b in zip(names, compiled_grads, eager_grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=lambda m: f"{task} {name}: {m}")
    assert compiled.summary()["graphs"] == 2


def assert_sparse_steps_keep_weights_outside_the_mask(
        model: MultiTaskTagger, loss_of: Callable[[Batch, str], torch.Tensor],
        after_step: Callable[[dict[str, torch.Tensor]], None] = lambda weights: None) -> None:
    """Six Adam steps (weight decay on) of a sparse ``model``, two tasks alternating, each loss from
    ``loss_of(batch, task)``: every task's prunable weights outside its mask stay bit for bit,
    and some inside change. ``after_step`` sees the task's weights after each step."""
    sharing = model.sharing
    masks = sharing.mask_set()
    optimizers = sharing.build_optimizers(lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01),
                                          list(model.parameters()), TASKS)
    for step in range(6):
        task = TASKS[step % 2]
        weights = sharing.prunable_weights(task)
        before = {n: w.detach().clone() for n, w in weights.items()}
        model.zero_grad(set_to_none=True)
        loss_of(tagged_batch(step, task), task).backward()
        sharing.step(task, optimizers[task])
        after_step(weights)
        for name, weight in weights.items():
            outside = ~masks[task][name]
            assert torch.equal(weight.detach()[outside], before[name][outside]), (step, task, name)
        assert any(not torch.equal(w.detach(), before[n]) for n, w in weights.items())


def test_sparse_steps_with_a_compiled_head_leave_weights_outside_the_mask_unchanged() -> None:
    model = tiny_model("sparse")
    compiled = CompiledHeads(model.heads)
    assert_sparse_steps_keep_weights_outside_the_mask(
        model, lambda batch, task: model.loss(batch, task, partial(compiled.loss, task)))
    assert compiled.failure is None


@pytest.fixture
def broken_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compile as on a machine without a C++ compiler: every compiled call raises."""
    def broken_compile(function, **options):
        def call(*args):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nlong details")
        return call

    monkeypatch.setattr(compiled_module.torch, "compile", broken_compile)


def test_a_compiler_failure_falls_back_to_eager_in_one_line(broken_compiler, caplog) -> None:
    model = tiny_model("hard")
    compiled = CompiledHeads(model.heads)
    batch = tagged_batch(1, "ner")
    with caplog.at_level(logging.WARNING, logger=compiled_module.__name__):
        for _ in range(3):
            loss = model.loss(batch, "ner", partial(compiled.loss, "ner"))
            assert torch.equal(loss, model.loss(batch, "ner"))
        model.loss(tagged_batch(1, "pos"), "pos", partial(compiled.loss, "pos"))
    assert len(caplog.records) == 1
    assert "training eagerly" in caplog.records[0].getMessage()
    assert compiled.summary()["failure"] == "RuntimeError: InvalidCxxCompiler: No working C++ compiler found"


def test_a_compiler_failure_in_decoding_decodes_eagerly_in_one_line(broken_compiler, caplog) -> None:
    model = tiny_model("hard")
    model.eval()
    compiled = CompiledHeads(model.heads)
    with caplog.at_level(logging.WARNING, logger=compiled_module.__name__):
        for task in TASKS * 2:
            batch = tagged_batch(1, task)
            assert model.decode(batch, task, partial(compiled.decode, task)) == model.decode(batch, task)
    assert [r.getMessage() for r in caplog.records] == [
        "trainer.compile: compiling task ner's decoding failed (RuntimeError: InvalidCxxCompiler: No working C++ "
        "compiler found); decoding eagerly"]
    assert compiled.summary() == {"seconds": 0.0, "graphs": 0,
                                  "failure": "RuntimeError: InvalidCxxCompiler: No working C++ compiler found"}


def decoding_head(head_type: str) -> torch.nn.Module:
    """A head over 6 features with every parameter random: the CRF's transitions are not all equal,
    so random emissions have one best path and no ties for the two decoders to break differently."""
    torch.manual_seed(2)
    head = HEADS.build(tiny_trunks.config(HEADS, head_type), input_dim=6, labels=LABELS["ner"], tag_scheme="bio")
    for parameter in head.parameters():
        torch.nn.init.normal_(parameter)
    return head


@pytest.mark.parametrize("head_type", ["crf", "softmax"])
def test_compiled_decoding_equals_eager_decoding_in_every_bucket_and_above(monkeypatch, head_type: str) -> None:
    # Buckets of 4 and 8 steps compile in seconds; which bucket a batch takes, the padding and the
    # cut back are the same code at 16, 32 and 64.
    monkeypatch.setattr(compiled_module, "LENGTH_BUCKETS", (4, 8))
    head = decoding_head(head_type)
    compiled = CompiledHeads(torch.nn.ModuleDict({"ner": head}))
    # Two sentences a batch: a batch of one, or a first change of size, may compile a graph of its own.
    for number, lengths in enumerate(([3, 1], [4, 2], [8, 5], [1, 7], [6, 6], [9, 2])):
        features = torch.randn(len(lengths), max(lengths), 6, generator=torch.Generator().manual_seed(number))
        mask = torch.arange(max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
        with torch.inference_mode():
            got = compiled.decode("ner", features, mask)
            assert got == head.decode(features, mask), lengths
        assert [len(tags) for tags in got] == lengths
    assert compiled.failure is None
    # Above the largest bucket (9 steps) decoding is eager: nothing compiled for it.
    assert compiled.seen == {("decoding", "ner", 4), ("decoding", "ner", 8)}
    assert compiled.summary()["graphs"] == 2 and compiled.seconds > 0


# ------------------------------------------------------------------ through the CLI
def scores(history: list[dict]) -> list[float]:
    """Every evaluation's dev and test score of every task, in order."""
    return [s[split]["score"] for record in history for s in record["tasks"].values() for split in ("dev", "test")]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory, inductor_cache: str) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("compile")
    corpus = write_tiny_corpus(workdir / "data")
    eager = ner_only_config(workdir / "eager.jsonnet", corpus, 1, compile=False)
    reference = workdir / "reference"
    assert run_ssl("train", eager, "-s", reference, "-o", "trainer.num_epochs=2").returncode == 0
    switched = workdir / "switched"
    assert run_ssl("train", eager, "-s", switched).returncode == 0
    result = run_ssl("train", ner_only_config(workdir / "compiled.jsonnet", corpus, 2, compile=True), "-s", switched, "--resume",
                     env={"TORCHINDUCTOR_CACHE_DIR": inductor_cache})
    assert result.returncode == 0, result.stderr
    return {"reference": reference, "switched": switched, "workdir": workdir, "corpus": corpus}


def test_a_run_resumed_with_compile_on_matches_the_eager_run(cli_runs: dict) -> None:
    reference, switched = read_metrics(cli_runs["reference"]), read_metrics(cli_runs["switched"])
    assert reference["compile"] is None
    assert switched["compile"]["graphs"] >= 1 and switched["compile"]["failure"] is None
    assert switched["compile"]["seconds"] > 0
    assert len(switched["history"]) == len(reference["history"]) == 2
    for got, want in zip(scores(switched["history"]), scores(reference["history"])):
        assert got == pytest.approx(want, abs=1e-6)


def test_compare_does_not_split_rows_by_compile(cli_runs: dict) -> None:
    [row] = compare([cli_runs["reference"], cli_runs["switched"]]).rows
    assert len(row.runs) == 2


def test_no_cxx_compiler_trains_eagerly_with_one_line(cli_runs: dict, tmp_path: Path) -> None:
    config = ner_only_config(tmp_path / "compiled.jsonnet", cli_runs["corpus"], 1, compile=True)
    result = run_ssl("train", config, "-s", tmp_path / "run",
                     env={"CXX": str(tmp_path / "no-such-compiler"),
                          "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert output.count("training eagerly") == 1, output
    run = read_metrics(tmp_path / "run")
    assert run["compile"]["failure"] and run["compile"]["graphs"] == 0
    assert scores(run["history"]) == pytest.approx(scores(read_metrics(cli_runs["reference"])["history"][:1]), abs=1e-6)


def test_validate_rehearses_without_compiling(cli_runs: dict, tmp_path: Path) -> None:
    """A compile takes minutes and a failed one does not fail a run, so validate leaves it out."""
    result = run_ssl("validate", ner_only_config(tmp_path / "compiled.jsonnet", cli_runs["corpus"], 1, compile=True))
    assert result.returncode == 0, result.stderr
    assert "trainer.compile" not in result.stdout + result.stderr
