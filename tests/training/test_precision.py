"""``trainer.precision``: a bf16 step (forward and loss under autocast) computes a loss and gradients
close to fp32 and finite, for CRF and softmax heads, hard and sparse sharing; the CRF stays fp32
bit for bit; sparse steps stay inside their masks bit for bit; a device without bf16 is refused
before anything is written; and runs record their precision, which ``--resume`` may change and
``ssl compare`` splits rows by.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import torch

from conftest import ner_only_config, read_metrics, run_ssl, write_tiny_corpus
from sparse_sharing.analysis.compare import compare, experiment_key
from sparse_sharing.devices import autocast, bf16_supported, check_precision
from sparse_sharing.errors import ConfigError
from training.test_compile import (TASKS, assert_sparse_steps_keep_weights_outside_the_mask,
                                   loss_and_gradients, tagged_batch, tiny_model)

CPU = torch.device("cpu")
needs_bf16 = pytest.mark.skipif(not bf16_supported(CPU), reason="this CPU does not compute bf16 natively")


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """``|got - want| / |want|`` in the 2-norm: bf16 keeps 8 bits of mantissa, so single entries
    near zero carry errors of the size of the largest entry's rounding, not of their own."""
    return float((got - want).norm() / want.norm())


@needs_bf16
@pytest.mark.parametrize("sharing_type", ["hard", "sparse"])
def test_a_bf16_step_is_close_to_fp32_for_crf_and_softmax_heads(sharing_type: str) -> None:
    model = tiny_model(sharing_type)
    model.train()
    for task in TASKS:  # ner: CRF head; pos: softmax head
        batch = tagged_batch(3, task)
        torch.manual_seed(0)  # the same dropout on both sides
        fp32_loss, fp32_grads = loss_and_gradients(model, batch, task)
        torch.manual_seed(0)
        with autocast("bf16", CPU):
            bf16_loss, bf16_grads = loss_and_gradients(model, batch, task)
        assert bf16_loss.dtype == torch.float32 and torch.isfinite(bf16_loss)
        assert relative_error(bf16_loss, fp32_loss) < 2e-2
        assert not torch.equal(bf16_loss, fp32_loss)  # it did compute in bf16
        assert all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in bf16_grads)
        # The gradient as one vector, as the optimizer (and clipping's norm) sees it.
        assert relative_error(torch.cat([g.flatten() for g in bf16_grads]),
                              torch.cat([g.flatten() for g in fp32_grads])) < 2e-2, task


def test_fp32_is_plain_torch_bit_for_bit() -> None:
    model = tiny_model("hard")
    model.eval()
    batch = tagged_batch(2, "ner")
    plain_loss, plain_grads = loss_and_gradients(model, batch, "ner")
    with autocast("fp32", CPU):
        assert not torch.is_autocast_enabled("cpu")
        loss, grads = loss_and_gradients(model, batch, "ner")
    assert torch.equal(loss, plain_loss) and all(torch.equal(a, b) for a, b in zip(grads, plain_grads))


def test_the_crf_computes_in_fp32_under_bf16_autocast() -> None:
    """Under autocast the CRF's loss and its gradients (LogPartition's backward: batched products
    autocast would run in bf16) are those of fp32, bit for bit, given the same emissions."""
    crf = tiny_model("hard").heads["ner"].crf
    batch = tagged_batch(4, "ner")
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(*batch.padding_mask.shape, crf.num_tags, generator=generator, requires_grad=True)
    params = [logits, crf.transitions, crf.start_transitions, crf.end_transitions]

    def nll_and_grads():
        nll = crf.neg_log_likelihood(logits, batch.tags, batch.padding_mask).sum()
        return nll, torch.autograd.grad(nll, params)

    want, want_grads = nll_and_grads()
    with autocast("bf16", CPU):
        got, got_grads = nll_and_grads()
    assert torch.equal(got, want)
    assert all(torch.equal(a, b) for a, b in zip(got_grads, want_grads))


@needs_bf16
def test_bf16_sparse_steps_leave_weights_outside_the_mask_unchanged() -> None:
    model = tiny_model("sparse")

    def bf16_loss(batch, task: str) -> torch.Tensor:
        with autocast("bf16", CPU):
            return model.loss(batch, task)

    def stay_fp32(weights: dict[str, torch.Tensor]) -> None:
        assert all(w.dtype == torch.float32 and w.grad.dtype == torch.float32 for w in weights.values())

    assert_sparse_steps_keep_weights_outside_the_mask(model, bf16_loss, stay_fp32)


def test_a_cpu_without_bf16_is_refused_naming_the_key(monkeypatch) -> None:
    check_precision("fp32", CPU)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    check_precision("fp32", CPU)
    with pytest.raises(ConfigError, match=r"^trainer\.precision: 'bf16' needs .* trainer\.precision 'fp32'"):
        check_precision("bf16", CPU)


def test_compare_splits_rows_by_precision_and_a_config_without_it_is_fp32() -> None:
    old = {"seed": 1, "trainer": {"num_epochs": 3}}
    fp32 = {"seed": 2, "trainer": {"num_epochs": 3, "precision": "fp32"}}
    bf16 = {"seed": 1, "trainer": {"num_epochs": 3, "precision": "bf16"}}
    assert experiment_key(old) == experiment_key(fp32) != experiment_key(bf16)


# ------------------------------------------------------------------ through the CLI
@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A corpus and an fp32 run, and a bf16 run where this CPU computes bf16 (the tests that read it
    are marked ``needs_bf16``; the refusal test needs only the corpus, and runs on every CPU)."""
    workdir = tmp_path_factory.mktemp("precision")
    corpus = write_tiny_corpus(workdir / "data")
    runs = {"workdir": workdir, "corpus": corpus}
    for precision in ("fp32", "bf16") if bf16_supported(CPU) else ("fp32",):
        runs[precision] = workdir / precision
        result = run_ssl("train", ner_only_config(workdir / f"{precision}.jsonnet", corpus, 1, precision=precision), "-s", runs[precision])
        assert result.returncode == 0, result.stderr
    return runs


@needs_bf16
def test_a_bf16_run_records_its_precision_and_compare_keeps_it_apart(cli_runs: dict) -> None:
    fp32, bf16 = read_metrics(cli_runs["fp32"]), read_metrics(cli_runs["bf16"])
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert [p["precision"] for p in bf16["provenance"]] == ["bf16"]
    assert bf16["finished"] and 0.0 <= bf16["tasks"]["ner"]["dev"] <= 100.0
    assert len(compare([cli_runs["fp32"], cli_runs["bf16"]]).rows) == 2


@needs_bf16
def test_resume_may_switch_precision_and_provenance_says_so(cli_runs: dict) -> None:
    workdir = cli_runs["workdir"]
    run_dir = workdir / "switched"
    assert run_ssl("train", ner_only_config(workdir / "a.jsonnet", cli_runs["corpus"], 1, precision="fp32"), "-s", run_dir).returncode == 0
    resumed = run_ssl("train", ner_only_config(workdir / "b.jsonnet", cli_runs["corpus"], 1, precision="bf16"), "-s", run_dir,
                      "--resume", "-o", "trainer.num_epochs=2")
    assert resumed.returncode == 0, resumed.stderr
    assert "precision bf16 (was fp32)" in resumed.stdout + resumed.stderr
    run = read_metrics(run_dir)
    assert run["precision"] == "bf16" and [p["precision"] for p in run["provenance"]] == ["fp32", "bf16"]


def test_a_cpu_without_bf16_exits_2_before_writing(cli_runs: dict, tmp_path: Path) -> None:
    """A plugin package stands in for a CPU without bf16: it is imported before the run starts."""
    plugin = tmp_path / "plugins" / "no_bf16"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(textwrap.dedent("""\
        import torch
        torch.cpu._is_avx512_bf16_supported = lambda: False
        torch.cpu._is_amx_tile_supported = lambda: False
    """), encoding="utf-8")
    python_path = os.pathsep.join(filter(None, [str(plugin.parent), os.environ.get("PYTHONPATH")]))
    result = run_ssl("train", ner_only_config(tmp_path / "bf16.jsonnet", cli_runs["corpus"], 1, precision="bf16"), "-s",
                     tmp_path / "run", "--include-package", "no_bf16", env={"PYTHONPATH": python_path})
    assert result.returncode == 2, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "trainer.precision: 'bf16' needs" in output
    assert not (tmp_path / "run").exists()
