"""The ``embedded`` dataset reader: one tag column of the toy corpus generated in code
(``toy_corpus.py``), so the quickstart runs with no download; a path is a split name, or a file
in the layout `ssl corpus` writes."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from sparse_sharing.components.data.conll import ConllReader, ConllReaderConfig
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.tag_schemes import check_conversion, convert_tags
from sparse_sharing.components.data.toy_corpus import COLUMNS, FILE_SCHEMES, SPLITS, numbered
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS, ComponentConfig


class EmbeddedReaderConfig(ComponentConfig):
    type: Literal["embedded"] = Field(description="The bundled toy corpus; paths are the split names "
                                        "(or files in the layout `ssl corpus` writes).")
    column: Literal["pos", "chunk", "ner"] = Field(description="Which of the corpus' three tag columns is the task.")
    tag_scheme: Literal["bio", "bioes", "none"] = Field(
        None, validate_default=True,
        description="Scheme the task trains and is scored in: none for pos, bio or bioes for chunk and ner; "
        "null picks none for pos and bio otherwise.",
    )

    @field_validator("tag_scheme", mode="before")
    @classmethod
    def _default_scheme(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.data.get("column") in FILE_SCHEMES:
            return FILE_SCHEMES[info.data["column"]]
        return value

    @model_validator(mode="after")
    def _check(self) -> EmbeddedReaderConfig:
        check_conversion(FILE_SCHEMES[self.column], self.tag_scheme)
        return self


@DATASET_READERS.register("embedded", config=EmbeddedReaderConfig)
class EmbeddedReader:
    """Serves one tag column of the generated corpus in the ``conll`` reader's interface."""

    def __init__(self, config: EmbeddedReaderConfig) -> None:
        self.config = config

    @property
    def tag_scheme(self) -> str:
        return self.config.tag_scheme

    @property
    def file_scheme(self) -> str:
        """How `write_conll` encodes spans: predictions are written back in it."""
        return FILE_SCHEMES[self.config.column]

    def read(self, path: str | Path, with_tags: bool = True) -> list[Sentence]:
        """``path`` names a split ("train", "dev" or "test"), or any other file in the layout of
        ``ssl corpus``'s export (word POS chunk NER, BIO): that is how ``ssl evaluate`` scores a
        run on the bundled corpus against a file. The split names always mean the splits."""
        if str(path) not in SPLITS:
            return self._file_reader(path).read(path, with_tags)
        column = COLUMNS[self.config.column]
        source_scheme = FILE_SCHEMES[self.config.column]
        return [
            Sentence(
                tuple(token[0] for token in sentence),
                tuple(convert_tags([token[column] for token in sentence], source_scheme, self.tag_scheme))
                if with_tags else None,
                source,
            )
            for source, sentence in numbered(str(path))
        ]

    def read_words(self, path: str | Path) -> list[Sentence]:
        """A split's words, or a file's: one token per line in the first column, as for any run."""
        if str(path) in SPLITS:
            return self.read(path, with_tags=False)
        return self._file_reader(path).read_words(path)

    def _file_reader(self, path: str | Path) -> ConllReader:
        """A reader of files in the export's layout; a path that is no file is most likely a misspelt split."""
        if not Path(path).exists():
            raise DataError(f"the embedded corpus has no split {str(path)!r}; valid names: {', '.join(SPLITS)} "
                            f"(or a file in the layout `ssl corpus` writes, but there is no file {path})")
        return ConllReader(ConllReaderConfig(
            type="conll", tag_column=COLUMNS[self.config.column], num_columns=len(COLUMNS) + 1,
            input_scheme=FILE_SCHEMES[self.config.column], tag_scheme=self.tag_scheme))
