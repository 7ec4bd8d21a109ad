"""The ``conll`` dataset reader: one token a line, whitespace-separated columns, blank lines
between sentences.

Column files differ in width, tag column and tag scheme, and what goes wrong with them is
nearly always one line: a missing column, a stray tab, a tag in another scheme. So every
error names ``file:line`` and shows the line, and the tag scheme is converted at read time
so the rest of the project sees one scheme per task.

Other readers of column files (``position``) share the layout fields (`ColumnFileConfig`) and
the checked parsing (`read_blocks`), so they report malformed files in the same words.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal, TypeVar

from pydantic import Field, model_validator

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.tag_schemes import TagSchemeError, check_conversion, convert_tags
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS, ComponentConfig

T = TypeVar("T")

# Only spaces and tabs separate columns: str.split() would also split on U+00A0 and other
# Unicode spaces that web-derived corpora keep inside tokens.
_COLUMN_SEPARATOR = re.compile(r"[ \t]+")

Block = list[tuple[int, list[str], str]]  # one sentence: (line number, columns, line) per token


class ColumnFileConfig(ComponentConfig):
    """How a column file is laid out: the fields of every reader of such files (not a component itself)."""

    word_column: int = Field(0, ge=0, description="0-based column holding the word.")
    num_columns: int | None = Field(
        None, ge=1,
        description="Columns every token line must have; null = as many as the first token line of the file.",
    )
    docstart: str = Field(
        "-DOCSTART-", min_length=1,
        description="Document separator: lines whose first or word column is this are skipped.",
    )

    @model_validator(mode="after")
    def _check_word_column(self) -> ColumnFileConfig:
        if self.num_columns is not None and self.word_column >= self.num_columns:
            raise ValueError(f"word_column {self.word_column} is out of range for num_columns {self.num_columns}")
        return self


class ConllReaderConfig(ColumnFileConfig):
    type: Literal["conll"] = Field(description="Reads a whitespace-separated CoNLL column file.")
    tag_column: int = Field(
        description="0-based column holding this task's tag; negative counts from the end (-1 = last column)."
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

    @model_validator(mode="after")
    def _check(self) -> ConllReaderConfig:
        check_conversion(self.input_scheme, self.tag_scheme)
        if self.num_columns is not None and not -self.num_columns <= self.tag_column < self.num_columns:
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
        sentences: list[Sentence] = []
        for block in read_blocks(path, config, config.tag_column if with_tags else None):
            tags = None
            if with_tags:
                # Every line of the file has the same width, so a negative column indexes as it should.
                raw = [columns[config.tag_column] for _, columns, _ in block]
                try:
                    tags = tuple(convert_tags(raw, config.input_scheme, config.tag_scheme))
                except TagSchemeError as error:
                    raise DataError(f"{path}:{block[error.position][0]}: {error.problem}") from None
            sentences.append(block_sentence(path, block, config.word_column, tags))
        return sentences

    def read_words(self, path: str | Path) -> list[Sentence]:
        return read_token_file(path, self.config.docstart)


def read_blocks(path: str | Path, layout: ColumnFileConfig, tag_column: int | None = None) -> list[Block]:
    """The sentences of a column file, checked: every token line has the same number of columns
    (``num_columns``, or as many as the first token line) and the word column, and ``tag_column``
    when given, exist. Every error names ``file:line`` and shows the line."""
    expected = layout.num_columns
    first_line = 0
    blocks: list[Block] = []
    for block in _parsed_blocks(path, layout.docstart, layout.word_column):
        if not first_line:
            lineno, columns, line = block[0]
            first_line = lineno
            expected = expected or len(columns)
            _check_column(path, lineno, line, "word", layout.word_column, expected)
            if tag_column is not None:
                _check_column(path, lineno, line, "tag", tag_column, expected)
        for lineno, columns, line in block:
            if len(columns) != expected:
                inferred = "" if layout.num_columns else f" (as on line {first_line})"
                raise DataError(f"{path}:{lineno}: expected {expected} columns{inferred}, "
                                f"found {len(columns)}: {line!r}")
        blocks.append(block)
    return _nonempty(blocks, path, layout.docstart)


def block_sentence(path: str | Path, block: Block, word_column: int, tags: tuple[str, ...] | None) -> Sentence:
    """The sentence of a checked block, its source the ``file:line`` of its first token."""
    return Sentence(tuple(columns[word_column] for _, columns, _ in block), tags, f"{path}:{block[0][0]}")


def read_token_file(path: str | Path, docstart: str) -> list[Sentence]:
    """Unlabelled sentences for prediction: the word is the first column, other columns are ignored."""
    return _nonempty([block_sentence(path, block, 0, None) for block in _blocks(path, docstart, 0)],
                     path, docstart)


def _check_column(path: str | Path, lineno: int, line: str, what: str, column: int, width: int) -> None:
    if not -width <= column < width:
        raise DataError(f"{path}:{lineno}: {what} column {column} is out of range for a line with "
                        f"{width} columns: {line!r}")


def _nonempty(items: list[T], path: str | Path, docstart: str) -> list[T]:
    if not items:
        raise DataError(f"{path}: no sentences: the file holds only blank lines and {docstart} lines")
    return items


_parses: dict[tuple, list[Block]] | None = None  # the parses of the active parse_once block


@contextmanager
def parse_once() -> Iterator[None]:
    """Inside this block a file is split into sentences and columns only once, however many
    readers read it: POS, chunking and NER of CoNLL-2003 are three readers of one file. A file
    is known by its resolved path, size and modification time, so an edited file is parsed
    anew. Outside any such block nothing is kept, so a training run does not hold the raw
    lines for hours. Nested blocks share the outermost one's parses."""
    global _parses
    if _parses is not None:
        yield
        return
    _parses = {}
    try:
        yield
    finally:
        _parses = None


def _parsed_blocks(path: str | Path, docstart: str, word_column: int) -> list[Block]:
    """``_blocks`` as a list, from the active `parse_once` block's parses when it has this file.

    Readers only read the blocks, so sharing them between readers is safe."""
    if _parses is None:
        return list(_blocks(path, docstart, word_column))
    try:
        stat = Path(path).stat()
    except OSError:  # _blocks reports it in the reader's words
        return list(_blocks(path, docstart, word_column))
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, docstart, word_column)
    if key not in _parses:
        _parses[key] = list(_blocks(path, docstart, word_column))
    return _parses[key]


def _blocks(path: str | Path, docstart: str, word_column: int) -> Iterator[Block]:
    """Unchecked sentences; a document marker also ends a sentence."""
    block: Block = []
    for lineno, line in enumerate(read_lines(path), start=1):
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


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file, or a DataError naming the file (and the line)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"data path is a directory, not a file: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read data file {path}: {error.strerror}") from None
    return text_lines(data, str(path))


def text_lines(data: bytes, name: str) -> list[str]:
    """The lines of UTF-8 text (a BOM dropped; \\n, \\r\\n or \\r line ends), or a DataError naming
    ``name`` (a file, or standard input) and the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        lineno = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"{name}:{lineno}: not UTF-8 text (byte {data[error.start]:#04x})") from None
    if not text.strip():
        raise DataError(f"{name}: the file is empty")
    # Universal newlines by hand: str.splitlines() would also break at \x1c, \x85 or U+2028 inside a token.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def tokens_per_line(lines: list[str]) -> list[list[str]]:
    """Already tokenized text, one sentence a line: each non-blank line's tokens, split at spaces
    and tabs as a CoNLL line's columns are."""
    return [_COLUMN_SEPARATOR.split(line.strip(" \t")) for line in lines if line.strip(" \t")]
