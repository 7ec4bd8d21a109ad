"""The ``transformer`` encoder: padding, options, its default prunable weights, and every layer-wise strategy on it.

Sparse sharing's no-leak and all-ones-equals-hard guarantees on it are the parametrised cases of
``test_sparse_sharing.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

import tiny_trunks
from sparse_sharing.components.encoders.transformer import TransformerEncoder
from sparse_sharing.components.sharing.sluice import orthogonality_penalty
from sparse_sharing.errors import DataError
from sparse_sharing.registry import ENCODERS
from tiny_trunks import batch, config

TASKS = ["ner", "pos"]


def encoder(**options) -> TransformerEncoder:
    torch.manual_seed(0)
    settings = {"hidden_size": 8, "num_heads": 2, "ffn_size": 12, "num_layers": 2, "dropout": 0.0, **options}
    return ENCODERS.build(config(ENCODERS, "transformer", **settings), input_dim=5)


@pytest.mark.parametrize("options", [{}, {"norm": "post"}, {"positions": "learned"}])
def test_a_sentence_reads_only_its_own_tokens(options: dict) -> None:
    """Padding is masked out of attention and zero in the output: a sentence encodes the same alone
    as beside a longer one."""
    model = encoder(**options).eval()
    x = torch.randn(2, 6, 5)
    lengths = torch.tensor([6, 3])
    together = model(x, lengths)
    alone = model(x[1:, :3], lengths[1:])
    assert torch.allclose(together[1, :3], alone[0], atol=1e-5)
    assert torch.equal(together[1, 3:], torch.zeros(3, 8))
    x[1, 3:] = 100.0  # what stands at padding does not matter
    assert torch.allclose(model(x, lengths)[1, :3], alone[0], atol=1e-5)


def test_forward_is_the_layers_in_turn() -> None:
    model = encoder(dropout=0.3).train()
    x, lengths = torch.randn(2, 4, 5), torch.tensor([4, 2])
    torch.manual_seed(1)
    whole = model(x, lengths)
    torch.manual_seed(1)
    stepwise = model.run_layer(1, model.run_layer(0, x, lengths), lengths)
    assert torch.equal(whole, stepwise)
    assert model.output_dim == 8


def test_positions_make_order_matter() -> None:
    for positions in ("sinusoidal", "learned"):
        model = encoder(positions=positions, num_layers=1).eval()
        x = torch.randn(1, 4, 5)
        out = model(x, torch.tensor([4]))
        swapped = model(x[:, [1, 0, 2, 3]], torch.tensor([4]))
        assert not torch.allclose(out[0, 0], swapped[0, 1], atol=1e-4)


def test_learned_positions_refuse_a_longer_sentence_by_name() -> None:
    model = encoder(positions="learned", max_positions=4)
    with pytest.raises(DataError, match="model.encoder.max_positions"):
        model(torch.randn(1, 5, 5), torch.tensor([5]))


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(ValidationError, match="num_heads"):
        config(ENCODERS, "transformer", hidden_size=10, num_heads=3)


def test_default_prunable_weights_are_attention_and_feed_forward_matrices() -> None:
    sharing = tiny_trunks.strategy("sparse", TASKS, encoder="transformer")
    assert sharing.masked_names == ["embedders.1.conv.weight"] + [
        f"encoder.layers.{layer}.{name}.weight" for layer in (0, 1)
        for name in ("attention.in_proj", "attention.out_proj", "feed_forward.linear1", "feed_forward.linear2")]


def test_hierarchical_task_reads_its_transformer_layer() -> None:
    sharing = tiny_trunks.strategy("hierarchical", TASKS, encoder="transformer", task_layers={"pos": 1, "ner": 2})
    encoder_ = sharing.trunk.encoder
    low = encoder_.run_layer(0, sharing.trunk.embed(batch(0)), batch(0).lengths)
    assert torch.equal(sharing(batch(0), "pos"), low)
    sharing(batch(0), "pos").sum().backward()
    assert encoder_.layers[1].attention.in_proj.weight.grad is None
    assert encoder_.layers[0].attention.in_proj.weight.grad is not None


@pytest.mark.parametrize("type_, options", [("cross_stitch", {}), ("sluice", {"subspaces": 2})])
def test_layer_mixing_strategies_train_every_task_stack(type_: str, options: dict) -> None:
    sharing = tiny_trunks.strategy(type_, TASKS, distinct=True, encoder="transformer", **options)
    features, penalty = sharing.forward_with_penalty(batch(0), "ner")
    assert features.shape == (3, 5, 6)
    loss = features.sum() + (0 if penalty is None else penalty)
    loss.backward()
    for task in TASKS:
        assert sharing.trunks[task].encoder.layers[1].feed_forward.linear2.weight.grad is not None


def test_sluice_penalty_on_a_transformer_layer_cuts_its_output_matrices() -> None:
    sharing = tiny_trunks.strategy("sluice", TASKS, distinct=True, encoder="transformer", subspaces=2)
    expected = torch.zeros(())
    for trunk in sharing.trunks.values():
        for layer in trunk.encoder.layers:
            for weight in (layer.attention.out_proj.weight, layer.feed_forward.linear2.weight):
                expected = expected + orthogonality_penalty([weight[:3].T, weight[3:].T])
    assert torch.allclose(sharing.orthogonality(), expected)


def test_sluice_subspaces_must_divide_the_transformer_width() -> None:
    from sparse_sharing.errors import ConfigError

    with pytest.raises(ConfigError, match="does not divide"):
        tiny_trunks.strategy("sluice", TASKS, encoder="transformer", subspaces=4)


@pytest.mark.parametrize("kind, name", [("encoder", "transformer"), ("token_embedder", "pretrained_transformer")])
def test_ssl_components_lists_it_with_every_option_described(kind: str, name: str) -> None:
    from conftest import run_ssl
    from sparse_sharing.registry import ALL_KINDS

    fields = {f: info for f, info in ALL_KINDS[kind].get(name).config.model_fields.items() if f != "type"}
    assert fields and all(info.description for info in fields.values())
    result = run_ssl("components", kind)
    assert result.returncode == 0, result.stderr
    listing = result.stdout[result.stdout.index(f"{kind} '{name}'"):]
    for field in fields:
        assert f"│ {field} " in listing, field


SOURCES = {
    "search": {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 2}, "steps_per_round": 4,
               "warmup_steps": 4, "jobs": 1},
    "gradual": {"type": "gradual", "kept_fractions": [0.7, 0.49], "steps": 12, "prune_every": 3, "warmup_steps": 4},
    "one_shot": {"type": "one_shot", "kept_fractions": [1.0, 0.49], "train_steps": 6, "retrain_steps": 3,
                 "warmup_steps": 4},
}


def write_transformer_config(path: Path, sharing: str, masks: dict) -> Path:
    encoder = {"type": "transformer", "hidden_size": 8, "num_heads": 2, "ffn_size": 16, "num_layers": 2}
    path.write_text(f"(import 'tiny.jsonnet') + {{ model+: {{ encoder: {json.dumps(encoder)}, "
                    f"sharing: {{ type: '{sharing}' }} }}, masks: {json.dumps(masks)} }}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("source", list(SOURCES))
def test_sparse_pipeline_on_the_transformer_through_the_cli(source: str, tmp_path: Path) -> None:
    """Each mask source finds masks over the transformer's default prunable weights, the tasks train jointly on
    them, `ssl masks` reports them, and another run (single_subnet) takes them with `from_run`."""
    from conftest import run_ssl, write_tiny_config, write_tiny_corpus

    write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"), num_epochs=1,
                      callbacks=[{"type": "checkpoint"}])
    run = tmp_path / "run"
    result = run_ssl("train", write_transformer_config(tmp_path / "sparse.jsonnet", "sparse", SOURCES[source]),
                     "-s", run)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["finished"] and set(metrics["masks"]["kept_fraction"]) == {"pos", "chunk", "ner"}
    shown = run_ssl("masks", run, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    for name in ("encoder.layers.1.attention.in_proj.weight", "encoder.layers.0.feed_forward.linear2.weight"):
        assert name in shown.stdout
    assert "input_projection" not in shown.stdout and "norm" not in shown.stdout
    if source == "search":
        reused = tmp_path / "reused"
        config = write_transformer_config(tmp_path / "reuse.jsonnet", "single_subnet",
                                          {"type": "from_run", "path": str(run)})
        result = run_ssl("train", config, "-s", reused)
        assert result.returncode == 0, result.stderr
        assert json.loads((reused / "metrics.json").read_text())["masks"]["kept_fraction"] == \
            metrics["masks"]["kept_fraction"]
