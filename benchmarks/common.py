"""CoNLL-2003-shaped inputs for benchmarks: the real training sentences when the data is beside
the project, otherwise synthetic sentences with the same length profile and vocabulary size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_sharing.components.data.sentence import Sentence

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
