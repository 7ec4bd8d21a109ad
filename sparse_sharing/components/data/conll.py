"""The ``conll`` dataset reader: one token a line, whitespace-separated columns, blank lines
between sentences.

Column files differ in width, tag column and tag scheme, and what goes wrong with them is
nearly always one line: a missing column, a stray tab, a tag in another scheme. So every
error names ``file:line`` and shows the line, and the tag scheme is converted at read time
so the rest of the project sees one scheme per task.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Literal

from pydantic import Field, model_validator

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.tag_schemes import TagSchemeError, check_conversion, convert_tags
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS, ComponentConfig

# Only spaces and tabs separate columns: str.split() would also split on U+00A0 and other
# Unicode spaces that web-derived corpora keep inside tokens.
_COLUMN_SEPARATOR = re.compile(r"[ \t]+")


class ConllReaderConfig(ComponentConfig):
    type: Literal["conll"] = Field(description="Reads a whitespace-separated CoNLL column file.")
    word_column: int = Field(0, ge=0, description="0-based column holding the word.")
    tag_column: int = Field(
        description="0-based column holding this task's tag; negative counts from the end (-1 = last column)."
    )
    num_columns: int | None = Field(
        None, ge=1,
        description="Columns every token line must have; null = as many as the first token line of the file.",
    )
    input_scheme: Literal["iob1", "bio", "bioes", "none"] = Field(
        "none",
        description="Tag scheme used in the file: iob1 (original CoNLL-2003), bio (IOB2, e.g. CoNLL-2000), "
        "bioes, or none for tags without spans such as POS.",
    )
    tag_scheme: Literal["bio", "bioes", "iob1", "none"] = Field(
        "none",
        description="Scheme the task trains and is scored in; tags are converted to it from input_scheme.",
    )
    docstart: str = Field(
        "-DOCSTART-", min_length=1,
        description="Document separator: lines whose first or word column is this are skipped.",
    )

    @model_validator(mode="after")
    def _check(self) -> ConllReaderConfig:
        check_conversion(self.input_scheme, self.tag_scheme)
        if self.num_columns is not None:
            if self.word_column >= self.num_columns:
                raise ValueError(f"word_column {self.word_column} is out of range for num_columns {self.num_columns}")
            if not -self.num_columns <= self.tag_column < self.num_columns:
                raise ValueError(f"tag_column {self.tag_column} is out of range for num_columns {self.num_columns}")
        return self


@DATASET_READERS.register("conll", config=ConllReaderConfig)
class ConllReader:
    """Reads labelled CoNLL files for training and plain token files for prediction."""

    def __init__(self, config: ConllReaderConfig) -> None:
        self.config = config

    @property
    def tag_scheme(self) -> str:
        return self.config.tag_scheme

    @property
    def file_scheme(self) -> str:
        """How the files encode spans: predictions are written back in it."""
        return self.config.input_scheme

    def read(self, path: str | Path, with_tags: bool = True) -> list[Sentence]:
        """All sentences of ``path``; tags converted to ``tag_scheme``, or None without ``with_tags``."""
        config = self.config
        expected = config.num_columns
        first_line = 0
        tag_index = 0
        sentences: list[Sentence] = []
        for block in _blocks(path, config.docstart, config.word_column):
            if not first_line:
                lineno, columns, line = block[0]
                first_line = lineno
                expected = expected or len(columns)
                _check_column(path, lineno, line, "word", config.word_column, expected)
                if with_tags:
                    _check_column(path, lineno, line, "tag", config.tag_column, expected)
                    tag_index = config.tag_column % expected
            for lineno, columns, line in block:
                if len(columns) != expected:
                    inferred = "" if config.num_columns else f" (as on line {first_line})"
                    raise DataError(f"{path}:{lineno}: expected {expected} columns{inferred}, "
                                    f"found {len(columns)}: {line!r}")
            words = tuple(columns[config.word_column] for _, columns, _ in block)
            source = f"{path}:{block[0][0]}"
            tags = None
            if with_tags:
                raw = [columns[tag_index] for _, columns, _ in block]
                try:
                    tags = tuple(convert_tags(raw, config.input_scheme, config.tag_scheme))
                except TagSchemeError as error:
                    raise DataError(f"{path}:{block[error.position][0]}: {error.problem}") from None
            sentences.append(Sentence(words, tags, source))
        return _nonempty(sentences, path, config.docstart)

    def read_words(self, path: str | Path) -> list[Sentence]:
        """Unlabelled sentences for prediction: the word is the first column, other columns are ignored."""
        sentences = [
            Sentence(tuple(columns[0] for _, columns, _ in block), None, f"{path}:{block[0][0]}")
            for block in _blocks(path, self.config.docstart, 0)
        ]
        return _nonempty(sentences, path, self.config.docstart)


def _check_column(path: str | Path, lineno: int, line: str, what: str, column: int, width: int) -> None:
    if not -width <= column < width:
        raise DataError(f"{path}:{lineno}: {what} column {column} is out of range for a line with "
                        f"{width} columns: {line!r}")


def _nonempty(sentences: list[Sentence], path: str | Path, docstart: str) -> list[Sentence]:
    if not sentences:
        raise DataError(f"{path}: no sentences: the file holds only blank lines and {docstart} lines")
    return sentences


def _blocks(path: str | Path, docstart: str, word_column: int) -> Iterator[list[tuple[int, list[str], str]]]:
    """Sentences as lists of (line number, columns, line); a document marker also ends a sentence."""
    block: list[tuple[int, list[str], str]] = []
    for lineno, line in enumerate(_lines(path), start=1):
        stripped = line.strip(" \t")
        if not stripped:
            if block:
                yield block
                block = []
            continue
        columns = _COLUMN_SEPARATOR.split(stripped)
        if columns[0] == docstart or (word_column < len(columns) and columns[word_column] == docstart):
            if block:
                yield block
                block = []
            continue
        block.append((lineno, columns, line))
    if block:
        yield block


def _lines(path: str | Path) -> list[str]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"data path is a directory, not a file: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read data file {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        lineno = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {data[error.start]:#04x})") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    # Universal newlines by hand: str.splitlines() would also break at \x1c, \x85 or U+2028 inside a token.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
