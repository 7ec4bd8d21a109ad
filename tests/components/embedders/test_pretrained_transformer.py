"""The ``pretrained_transformer`` token embedder on a tiny BERT saved to a temporary directory (nothing downloaded):
pooling of pieces to tokens, windows, frozen or trained, its prunable weights under sparse sharing, and
the whole pipeline through the real CLI."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from conftest import run_ssl, write_tiny_config, write_tiny_corpus  # noqa: E402
from sparse_sharing.components.data.batching import IndexedDataset  # noqa: E402
from sparse_sharing.components.data.vocabulary import PAD, UNK, Vocabulary  # noqa: E402
from sparse_sharing.components.masks import MaskSet  # noqa: E402
from sparse_sharing.components.sharing.trunk import Trunk  # noqa: E402
from sparse_sharing.errors import ConfigError  # noqa: E402
from sparse_sharing.registry import ENCODERS, SHARING, TOKEN_EMBEDDERS  # noqa: E402
from tiny_pretrained import save_tiny_bert  # noqa: E402
from tiny_trunks import config  # noqa: E402

VOCAB = Vocabulary([PAD, UNK], [PAD, UNK], {}, False)
SENTENCES = [("The", "cat", "sat", "on", "the", "mat", "."), ("Peter", "Blackburn"), ("EU",)]
TASKS = ["ner", "pos"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def embedder(model_dir: Path, **options):
    return TOKEN_EMBEDDERS.build(config(TOKEN_EMBEDDERS, "pretrained_transformer", model_name=str(model_dir),
                                        **options), vocab=VOCAB).eval()


def batch(sentences=SENTENCES):
    dataset = IndexedDataset([[1] * len(s) for s in sentences], [[[1]] * len(s) for s in sentences], None, sentences)
    return dataset.batch(list(range(len(sentences))))


def by_hand(module, words: tuple[str, ...]) -> tuple[torch.Tensor, list[int | None]]:
    """The model's last hidden states for one sentence alone, and each piece's token."""
    encoding = module.tokenizer([list(words)], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = module.model(**encoding).last_hidden_state[0]
    return hidden, encoding.word_ids(0)


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_each_token_gets_its_pieces_pooled(model_dir: Path, pooling: str) -> None:
    module = embedder(model_dir, pooling=pooling)
    with torch.no_grad():
        vectors = module(batch())
    assert vectors.shape == (3, 7, 32) and module.output_dim == 32
    for row, words in enumerate(SENTENCES):
        hidden, word_ids = by_hand(module, words)
        for token in range(len(words)):
            positions = [p for p, w in enumerate(word_ids) if w == token]
            expected = hidden[positions[0]] if pooling == "first" else hidden[positions].mean(0)
            assert torch.allclose(vectors[row, token], expected, atol=1e-5), (words, token)
        assert torch.equal(vectors[row, len(words):], torch.zeros(7 - len(words), 32))
    assert any(len([w for w in by_hand(module, s)[1] if w == 0]) > 1 for s in SENTENCES)  # some token has pieces


def test_a_sentence_longer_than_the_positions_is_encoded_in_windows(tmp_path: Path) -> None:
    module = embedder(save_tiny_bert(tmp_path / "short", max_positions=12))
    long = tuple(["word"] * 9)  # 4 pieces a token: 36 pieces, windows of at most 10
    with torch.no_grad():
        vectors = module(batch([long]))
    windows = module._windows([long])
    assert [start for _, start, _ in windows] == [0, 2, 4, 6, 8]
    assert torch.allclose(vectors[0, 2], vectors[0, 0], atol=1e-5)  # same text, same window position
    assert not torch.equal(vectors[0, 1], torch.zeros(32))


def test_a_token_without_pieces_reads_as_unknown(model_dir: Path) -> None:
    module = embedder(model_dir)
    assert module._windows([("a", "\u200b", "b")])[0][2] == ["a", "[UNK]", "b"]
    with torch.no_grad():
        assert not torch.equal(module(batch([("a", "\u200b", "b")]))[0, 1], torch.zeros(32))


@pytest.mark.parametrize("trainable", [True, False])
def test_trainable_or_frozen(model_dir: Path, trainable: bool) -> None:
    module = embedder(model_dir, trainable=trainable).train()
    vectors = module(batch())
    assert vectors.requires_grad == trainable
    assert all(p.requires_grad == trainable for p in module.parameters())


def sparse_on_pretrained(model_dir: Path, **options):
    def trunk() -> Trunk:
        torch.manual_seed(0)
        embedders = [TOKEN_EMBEDDERS.build(config(TOKEN_EMBEDDERS, "pretrained_transformer",
                                                  model_name=str(model_dir), prunable=True), vocab=VOCAB)]
        encoder = ENCODERS.build(config(ENCODERS, "transformer", hidden_size=8, num_heads=2, ffn_size=8, num_layers=1,
                                        dropout=0.0), input_dim=32)
        return Trunk(embedders, 0.0, encoder)

    return SHARING.build(config(SHARING, "sparse", **options), trunk_factory=trunk, tasks=TASKS).eval()


def test_prunable_declares_the_models_linear_weights_only(model_dir: Path) -> None:
    sharing = sparse_on_pretrained(model_dir)
    model_names = [n for n in sharing.masked_names if n.startswith("embedders.0.")]
    assert len(model_names) == 2 * 6  # 2 layers x (query, key, value, attention output, intermediate, output)
    assert all(n.endswith(".weight") and ".encoder.layer." in n for n in model_names)
    assert not any(part in n for n in sharing.masked_names for part in ("embeddings", "LayerNorm", "pooler", "bias"))
    assert "encoder.layers.0.attention.in_proj.weight" in sharing.masked_names
    assert not embedder(model_dir).prunable


def test_no_leak_into_the_pretrained_weights_outside_the_mask(model_dir: Path) -> None:
    """A step of task t, AdamW with decay, leaves every pretrained weight outside M_t bit-for-bit unchanged,
    and the masked forward is the forward of the weights zeroed outside the mask."""
    sharing = sparse_on_pretrained(model_dir)
    generator = torch.Generator().manual_seed(0)
    masks = MaskSet({t: {n: torch.rand(s, generator=generator) < 0.5 for n, s in sharing.mask_shapes().items()}
                     for t in TASKS})
    sharing.set_masks(masks)
    dense = copy.deepcopy(sharing.trunk)
    with torch.no_grad():
        for name, mask in masks["ner"].items():
            dense.get_parameter(name).mul_(mask)
    assert torch.allclose(sharing(batch(), "ner"), dense(batch()), atol=1e-6)
    optimizers = sharing.build_optimizers(lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
                                          list(sharing.parameters()), TASKS)
    for step in range(4):
        task = TASKS[step % 2]
        weights = sharing.prunable_weights(task)
        before = {n: w.detach().clone() for n, w in weights.items()}
        sharing.zero_grad(set_to_none=True)
        sharing(batch(), task).pow(2).sum().backward()
        sharing.step(task, optimizers[task])
        for name, weight in weights.items():
            outside = ~masks[task][name]
            assert torch.equal(weight.detach()[outside], before[name][outside]), (step, name)
        assert any(not torch.equal(w.detach(), before[n]) for n, w in weights.items() if ".encoder.layer." in n)


def test_a_hub_name_that_cannot_be_reached_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="pass a local directory"):
        embedder(tmp_path / "no-such-model")


# ------------------------------------------------------------------ the real CLI

def pretrained_config(path: Path, corpus: dict[str, Path], model_dir: Path, sharing: str) -> Path:
    base = write_tiny_config(path.parent / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    masks = {"masks": {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 2},
                       "steps_per_round": 4, "warmup_steps": 4, "jobs": 1}} if sharing == "sparse" else {}
    override = {"model": {"token_embedders": [{"type": "pretrained_transformer", "model_name": str(model_dir),
                                               "pooling": "mean", "prunable": True}],
                          "encoder": {"type": "transformer", "hidden_size": 16, "num_heads": 2, "ffn_size": 16,
                                      "num_layers": 1},
                          "sharing": {"type": sharing}},
                **masks}
    path.write_text(f"(import {json.dumps(base.name)}) + {{ model+: {json.dumps(override['model'])} }} + "
                    f"{json.dumps({k: v for k, v in override.items() if k != 'model'})}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_corpus(tmp_path_factory.mktemp("pretrained_corpus"))


@pytest.mark.parametrize("sharing", ["hard", "sparse"])
def test_trains_end_to_end_through_the_cli(sharing: str, corpus: dict[str, Path], model_dir: Path,
                                           tmp_path: Path) -> None:
    config_path = pretrained_config(tmp_path / f"{sharing}.jsonnet", corpus, model_dir, sharing)
    run = tmp_path / "run"
    result = run_ssl("train", config_path, "-s", run, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["finished"] and set(metrics["tasks"]) == {"pos", "chunk", "ner"}
    if sharing == "sparse":
        report = json.loads((run / "masks" / "ner.json").read_text())
        assert any(".encoder.layer." in name for name in report["tensors"])
        shown = run_ssl("masks", run, "--format", "json")
        assert shown.returncode == 0, shown.stderr
        assert "embedders.0.model.encoder.layer.0.attention.self.query.weight" in shown.stdout


def test_an_unreachable_hub_name_exits_2_with_the_advice(corpus: dict[str, Path], tmp_path: Path) -> None:
    config_path = pretrained_config(tmp_path / "hard.jsonnet", corpus, Path("made-up-org/no-such-model-xyz"), "hard")
    result = run_ssl("validate", config_path, env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr
    assert "made-up-org/no-such-model-xyz" in result.stderr and "pass a local directory" in result.stderr
    assert "Traceback" not in result.stderr
