"""Pretrained vectors in word2vec's text format: a header line ``COUNT DIM``, then a word and DIM numbers a line.

(The built-in ``file`` source reads GloVe's format, which has no header.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from sparse_sharing.components.embedders.pretrained import PretrainedSourceConfig
from sparse_sharing.errors import DataError
from sparse_sharing.registry import PRETRAINED_VECTORS


class Word2VecTextConfig(PretrainedSourceConfig):
    source: Literal["word2vec"]
    path: str = Field(description="A word2vec text file (header line, then a word and its values a line).")


@PRETRAINED_VECTORS.register("word2vec", config=Word2VecTextConfig)
class Word2VecText:
    def __init__(self, config: Word2VecTextConfig) -> None:
        self.path = Path(config.path)

    def load(self) -> tuple[tuple[str, ...], np.ndarray]:
        if not self.path.is_file():
            raise DataError(f"pretrained vectors file not found: {self.path}")
        header, *lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            count, dim = (int(v) for v in header.split())
        except ValueError:
            raise DataError(f"{self.path}:1: expected a header 'COUNT DIM', found {header[:60]!r}") from None
        words, rows = [], []
        for number, line in enumerate(lines, 2):
            word, *values = line.rstrip().split(" ")
            if len(values) != dim:
                raise DataError(f"{self.path}:{number}: expected {dim} values, found {len(values)}")
            words.append(word)
            rows.append(np.asarray(values, dtype=np.float32))
        if len(words) != count:
            raise DataError(f"{self.path}: the header announces {count} vectors, the file holds {len(words)}")
        return tuple(words), np.stack(rows)
