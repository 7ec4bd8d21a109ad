"""`dev_from_train`: a dev set held out of the training file for corpora without one (CoNLL-2000)."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from conftest import write_tiny_config
from sparse_sharing.components.data.holdout import DevFromTrainConfig, split_off_dev
from sparse_sharing.config.loading import load_experiment, resolve_config
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import ConfigError, DataError
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.data_setup import read_tasks
from sparse_sharing.training.experiment import build_experiment, load_trained

QUICKSTART = Path(__file__).resolve().parents[2] / "experiments" / "quickstart.jsonnet"


def holdout(fraction: float, seed: int = 0) -> DevFromTrainConfig:
    return DevFromTrainConfig(fraction=fraction, seed=seed)


def test_split_is_disjoint_complete_sized_and_in_file_order():
    sentences = list(range(1000))
    train, dev = split_off_dev(sentences, holdout(0.1), "where")
    assert len(dev) == 100 and len(train) == 900
    assert not set(train) & set(dev)
    assert sorted(train + dev) == sentences
    assert train == sorted(train) and dev == sorted(dev)
    assert len(split_off_dev(list(range(15)), holdout(0.1), "where")[1]) == 2  # round(1.5): whole sentences


def test_split_is_deterministic_and_depends_only_on_its_own_seed():
    sentences = list(range(500))
    first = split_off_dev(sentences, holdout(0.2), "where")
    random.seed(1)
    random.random()
    assert split_off_dev(sentences, holdout(0.2), "where") == first
    other_seed = split_off_dev(sentences, holdout(0.2, seed=1), "where")
    assert other_seed[1] != first[1] and len(other_seed[1]) == len(first[1])
    # Spread over the file, not its head or tail.
    assert min(first[1]) < 50 and max(first[1]) > 450


@pytest.mark.parametrize("fraction, total, size", [(0.01, 30, 0), (0.99, 10, 10), (0.5, 1, 0)])
def test_fraction_must_leave_sentences_on_both_sides(fraction, total, size):
    with pytest.raises(DataError, match=rf"^tasks.chunk.dev_from_train: fraction {fraction} of {total} training "
                                        rf"sentences is {size} sentences; the dev set and the rest of train must "
                                        "each keep at least one$"):
        split_off_dev(list(range(total)), holdout(fraction), "tasks.chunk.dev_from_train")


def quickstart() -> dict:
    import_plugins(())
    return resolve_config(QUICKSTART)


def test_config_needs_exactly_one_dev_source():
    raw = quickstart()
    neither = copy.deepcopy(raw)
    del neither["tasks"]["chunk"]["dev_path"]
    with pytest.raises(ConfigError, match=r"(?m)^  tasks.chunk: give exactly one of dev_path \(a dev file\) and "
                                          r"dev_from_train .*; neither is set$"):
        validate_experiment(neither, "x.jsonnet")
    both = copy.deepcopy(raw)
    both["tasks"]["ner"]["dev_from_train"] = {"fraction": 0.1}
    with pytest.raises(ConfigError, match=r"  tasks.ner: give exactly one .*; both are set"):
        validate_experiment(both, "x.jsonnet")
    bad = copy.deepcopy(neither)
    bad["tasks"]["chunk"]["dev_from_train"] = {"fraction": 1.0}
    with pytest.raises(ConfigError, match=r"tasks.chunk.dev_from_train.fraction: input should be less than 1"):
        validate_experiment(bad, "x.jsonnet")
    bad["tasks"]["chunk"]["dev_from_train"] = {"fraction": 0.1, "sed": 3}
    with pytest.raises(ConfigError, match=r"tasks.chunk.dev_from_train.sed: unknown key. Did you mean 'seed'\?"):
        validate_experiment(bad, "x.jsonnet")
    good = copy.deepcopy(neither)
    good["tasks"]["chunk"]["dev_from_train"] = {"fraction": 0.1}
    assert validate_experiment(good).tasks["chunk"].dev_from_train == holdout(0.1)
    with pytest.raises(ValidationError):
        DevFromTrainConfig(fraction=0.0)


@pytest.fixture
def held_out_config(tmp_path: Path, tiny_corpus: dict[str, Path]) -> Path:
    """The tiny three-task config with chunking's dev held out of its training file."""
    write_tiny_config(tmp_path / "tiny.jsonnet", tiny_corpus)
    path = tmp_path / "held_out.jsonnet"
    path.write_text("local tiny = import 'tiny.jsonnet';\n"
                    "tiny + { tasks+: { chunk+: { dev_path: null, dev_from_train: { fraction: 0.25 } } } }\n")
    return path


def sources(sentences) -> list[str]:
    return [s.source for s in sentences]


def test_read_tasks_holds_dev_out_of_train(held_out_config: Path, tiny_corpus: dict[str, Path]):
    _, config = load_experiment(held_out_config)
    data = read_tasks(config, ["chunk", "pos"])
    chunk, pos = data["chunk"].sentences, data["pos"].sentences
    assert list(chunk) == ["train", "dev", "test"]
    assert (len(chunk["train"]), len(chunk["dev"])) == (30, 10)
    by_line = sorted(sources(chunk["train"] + chunk["dev"]), key=lambda source: int(source.rsplit(":", 1)[1]))
    assert by_line == sources(pos["train"])
    assert all(s.startswith(f"{tiny_corpus['train']}:") for s in sources(chunk["dev"]))
    # The other tasks keep their dev files.
    assert len(pos["train"]) == 40 and len(pos["dev"]) == 15
    assert all(s.startswith(f"{tiny_corpus['dev']}:") for s in sources(pos["dev"]))


def test_every_command_sees_the_same_held_out_dev_set(held_out_config: Path, tmp_path: Path):
    """Training builds the experiment from the config; mask-search workers and --resume rebuild it
    from the run directory: they must select on the same sentences."""
    raw, config = load_experiment(held_out_config)
    fresh = build_experiment(config)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(raw))
    (run_dir / "vocabulary.json").write_text(json.dumps(fresh.vocab.to_json()))
    config, _, vocab = load_trained(run_dir)
    reloaded = build_experiment(config, vocab)
    for split in ("train", "dev"):
        assert sources(reloaded.data["chunk"].sentences[split]) == sources(fresh.data["chunk"].sentences[split])
        assert torch.equal(reloaded.data["chunk"].instances[split].words, fresh.data["chunk"].instances[split].words)


def test_too_small_a_fraction_names_the_task(held_out_config: Path):
    _, config = load_experiment(held_out_config, overrides=["tasks.chunk.dev_from_train.fraction=0.001"])
    with pytest.raises(DataError, match=r"^tasks.chunk.dev_from_train: fraction 0.001 of 40 training sentences is 0"):
        read_tasks(config, ["chunk"])
