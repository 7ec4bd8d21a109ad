"""What the benchmarks share: CoNLL-2003-shaped inputs (the real training sentences when the data
is beside the project, otherwise synthetic sentences with the same length profile and vocabulary
size) and the paper's base network over them, with three tasks on the same sentences as in
`experiments/conll03_hard.jsonnet` but random word vectors, so no download is needed."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary, VocabularyConfig
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.model import MultiTaskTagger, build_model

TASKS = ("pos", "chunk", "ner")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "train.txt"
NER_TAGS = ["O"] * 8 + ["B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG", "B-MISC"]


def conll03_shaped(count: int, seed: int = 0, path: Path = DEFAULT_DATA) -> tuple[list[Sentence], str]:
    """Sentences with words and BIO NER tags, and a description of where they came from."""
    if path.is_file():
        from sparse_sharing.components.data.conll import ConllReader, ConllReaderConfig

        reader = ConllReader(ConllReaderConfig(type="conll", tag_column=3, input_scheme="iob1", tag_scheme="bio"))
        return reader.read(path)[:count], f"CoNLL-2003 train ({path})"
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(25_000)]
    zipf = 1.0 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    sentences = []
    for i in range(count):
        length = int(np.clip(rng.lognormal(2.5, 0.6), 1, 124))  # CoNLL-2003 train: mean 14.5, max 124
        words = tuple(vocabulary[j] for j in rng.choice(len(vocabulary), size=length, p=zipf))
        tags = tuple(NER_TAGS[j] for j in rng.integers(0, len(NER_TAGS), size=length))
        sentences.append(Sentence(words, tuple(_repair_bio(tags)), f"synthetic:{i}"))
    return sentences, "synthetic sentences shaped like CoNLL-2003 (data not found)"


def _repair_bio(tags: tuple[str, ...]) -> list[str]:
    out = []
    for tag in tags:
        if tag.startswith("I-") and (not out or out[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def shaped_vocabulary(sentences: list[Sentence]) -> Vocabulary:
    """Words and characters of ``sentences``, their tags as the label set of every task in ``TASKS``."""
    return Vocabulary.build({"ner": sentences}, {t: sentences for t in TASKS},
                            VocabularyConfig(lowercase_words=True, pretrained_words="none"))


def experiment_config(batch_size: int, sharing: str = "hard") -> dict:
    """The paper's base network: 50-d words, char CNN 30 filters of width 3, BiLSTM 200 per direction,
    a CRF head per task."""
    task = {"dataset_reader": {"type": "conll", "tag_column": 3}, "train_path": "-", "dev_path": "-",
            "metric": {"type": "span_f1"}, "head": {"type": "crf"}}
    return {
        "tasks": {t: task for t in TASKS},
        "model": {
            "token_embedders": [{"type": "word", "dim": 50},
                                {"type": "char_cnn", "char_dim": 30, "num_filters": 30, "kernel_size": 3}],
            "embedding_dropout": 0.5,
            "encoder": {"type": "bilstm", "hidden_size": 200, "num_layers": 1, "dropout": 0.5},
            "sharing": {"type": sharing},
        },
        "trainer": {"num_epochs": 1, "batch_size": batch_size, "optimizer": {"type": "sgd", "lr": 0.1},
                    "grad_clipping": {"type": "norm", "max": 5.0}},
    }


def base_network(vocab: Vocabulary, batch_size: int, sharing: str = "hard", seed: int = 0) -> MultiTaskTagger:
    """The base network with ``sharing``, initialised from ``seed`` (the same seed, the same trunk weights
    whatever the sharing). Call ``sparse_sharing.registry.import_plugins`` first."""
    torch.manual_seed(seed)
    config = validate_experiment(experiment_config(batch_size, sharing))
    return build_model(config, vocab, list(TASKS), {t: "bio" for t in TASKS})


def benchmark_parser(description: str, steps_help: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; a script adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=300, help=steps_help)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--sentences", type=int, default=3000, help="Sentences to read or generate.")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads.")
    return parser


def prepare(args: argparse.Namespace) -> tuple[list[Sentence], str, Vocabulary]:
    """Threads set, components registered, and the sentences, their source and their vocabulary."""
    torch.set_num_threads(args.threads)
    import_plugins()
    sentences, source = conll03_shaped(args.sentences)
    return sentences, source, shaped_vocabulary(sentences)
