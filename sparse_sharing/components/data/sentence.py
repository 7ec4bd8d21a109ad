"""The unit every dataset reader returns, whatever the file format."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """One sentence; ``tags`` is None for unlabelled input, ``source`` ("file:line" of the
    first token) lets any later error or prediction dump point back into the data file."""

    words: tuple[str, ...]
    tags: tuple[str, ...] | None
    source: str

    def __post_init__(self) -> None:
        if self.tags is not None and len(self.tags) != len(self.words):
            raise ValueError(f"{self.source}: {len(self.words)} words but {len(self.tags)} tags")
