"""The ``position`` dataset reader: a synthetic task that labels every token with where it
stands in its sentence.

Sun, Shao et al. (AAAI 2020) pair NER with this "position prediction" task to show negative
transfer: it shares NER's inputs but nothing of its meaning, so hard sharing, which must serve
both with one network, loses NER F1, while sparse sharing can give each task its own
subnetwork. Reading the words from the NER files themselves makes the two tasks see exactly
the same sentences.

The labels, precisely: the token at 1-based position i of a sentence is labelled ``str(i)``, up
to the longest training sentence L; a dev or test token beyond it (at i > L) gets the last
label, ``str(L)``, the one training ends with, so the label set is the training split's and a
model that predicts "the last position" for every late token scores them right. A sentence of 3
tokens is labelled ("1", "2", "3"). The task can miss, as in the paper (99.21 / 99.50 / 99.45):
on CoNLL-2003 L is 113, and the late positions are rare in training (7 training sentences reach
position 60, one reaches 80). The labels depend on the words' count only, never on the words; they have no spans (tag
scheme ``none``) and are scored by accuracy.

``max_position`` = m instead caps the labels at m: ``str(i)`` for i < m and one label
``f"{m}+"`` from the m-th token on (m = 20 gives "1" … "19" and "20+", which every model learns
perfectly: then the task cannot miss, every mask-search round ties, and sharing never has to
compete).

The file is parsed by the ``conll`` reader's checked parsing: the same layout options
(`word_column`, `num_columns`, `docstart`) and the same ``file:line`` errors for malformed input;
only the word column is read.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Collection, Literal, Sequence

from pydantic import Field

from sparse_sharing.components.data.conll import ColumnFileConfig, block_sentence, read_blocks, read_token_file
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.registry import DATASET_READERS


class PositionReaderConfig(ColumnFileConfig):
    type: Literal["position"] = Field(
        description="Synthetic task: each token's 1-based position in its sentence, up to the longest training "
        "sentence (or capped at max_position)."
    )
    max_position: int | None = Field(
        None, ge=2,
        description="None: label i is str(i) up to the longest training sentence, later dev/test positions get "
        "the last label. An int m caps the labels instead: str(i) for i < m, f'{m}+' for i >= m (m labels in all).",
    )


def position_labels(length: int, max_position: int | None = None) -> tuple[str, ...]:
    """The labels of a sentence of ``length`` tokens: "1", "2", …, capped at "{m}+" given ``max_position`` m."""
    if max_position is None:
        return tuple(str(i) for i in range(1, length + 1))
    capped = f"{max_position}+"
    return tuple(str(i) if i < max_position else capped for i in range(1, length + 1))


def position_number(label: str) -> int:
    """The position a label stands for ("7" → 7, "20+" → 20)."""
    return int(label.rstrip("+"))


@DATASET_READERS.register("position", config=PositionReaderConfig)
class PositionReader:
    """Reads the words of a column file and labels them with their positions."""

    def __init__(self, config: PositionReaderConfig) -> None:
        self.config = config

    @property
    def tag_scheme(self) -> str:
        return "none"

    @property
    def file_scheme(self) -> str:
        return "none"

    def read(self, path: str | Path, with_tags: bool = True) -> list[Sentence]:
        """All sentences of ``path``, labelled with positions, or with None without ``with_tags``."""
        config = self.config
        return [
            block_sentence(path, block, config.word_column,
                           position_labels(len(block), config.max_position) if with_tags else None)
            for block in read_blocks(path, config)
        ]

    def read_words(self, path: str | Path) -> list[Sentence]:
        """Unlabelled sentences for prediction: the word is the first column, other columns are ignored."""
        return read_token_file(path, self.config.docstart)

    def close_labels(self, sentences: Sequence[Sentence], training_labels: Collection[str]) -> list[Sentence]:
        """A position training never reached (beyond its longest sentence) takes the last label training has
        (``contracts.ClosedLabelReader``): the data setup passes dev and test through here, ``ssl evaluate``
        any file it scores."""
        known = set(training_labels)
        last = max(known, key=position_number)
        return [s if s.tags is None or known.issuperset(s.tags)
                else dataclasses.replace(s, tags=tuple(t if t in known else last for t in s.tags))
                for s in sentences]
