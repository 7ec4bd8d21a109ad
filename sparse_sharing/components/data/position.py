"""The ``position`` dataset reader: a synthetic task that labels every token with where it
stands in its sentence.

Sun, Shao et al. (AAAI 2020) pair NER with this "position prediction" task to show negative
transfer: it shares NER's inputs but nothing of its meaning, so hard sharing, which must serve
both with one network, loses NER F1, while sparse sharing can give each task its own
subnetwork. Reading the words from the NER files themselves makes the two tasks see exactly
the same sentences.

The labels, precisely: with ``max_position`` = m (default 20), the token at 1-based position i
of a sentence gets the label ``str(i)`` when i < m and the single label ``f"{m}+"`` when
i ≥ m. So m = 20 gives 20 classes, "1" … "19" and "20+", and a sentence of 3 tokens is
labelled ("1", "2", "3"). The cap keeps the label set closed: a dev or test sentence longer than
every training sentence has no position label that training never saw. The labels depend on
the words' count only, never on the words; they have no spans (tag scheme ``none``) and are
scored by accuracy.

The file is parsed by the ``conll`` reader's checked parsing: the same layout options
(`word_column`, `num_columns`, `docstart`) and the same ``file:line`` errors for malformed input;
only the word column is read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from sparse_sharing.components.data.conll import ColumnFileConfig, block_sentence, read_blocks, read_token_file
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.registry import DATASET_READERS


class PositionReaderConfig(ColumnFileConfig):
    type: Literal["position"] = Field(
        description="Synthetic task: each token's 1-based position in its sentence, capped at max_position."
    )
    max_position: int = Field(
        20, ge=2,
        description="Cap m: the token at 1-based position i is labelled str(i) for i < m and f'{m}+' for i >= m "
        "(m labels in all).",
    )


def position_labels(length: int, max_position: int) -> tuple[str, ...]:
    """The labels of a sentence of ``length`` tokens: "1", "2", … up to the capped "{m}+"."""
    capped = f"{max_position}+"
    return tuple(str(i) if i < max_position else capped for i in range(1, length + 1))


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
