"""Span tag schemes and conversion between them.

CoNLL-2003 ships IOB1, where ``B-`` appears only between two adjacent spans of one type; a
tagger learns, and is scored, better in BIO (IOB2) or BIOES, where every span start (and for
BIOES every end) is spelt out. Every conversion decodes the tags into spans and encodes the
spans again, so there is one reading and one writing rule per scheme instead of one rule per
pair, and IOB1's irregular cases (a ``B-`` after ``O``, an ``I-`` whose type differs from the
previous token's) fall out of the span reading instead of needing special cases.

Ill-formed input (an ``I-X`` after ``O`` in BIO, an ``E-X`` with no ``B-X`` in BIOES) is read
the way conlleval reads it: the token starts a new span. Converting a scheme to itself thus
returns well-formed tags unchanged and repairs ill-formed ones.
"""
from __future__ import annotations

from typing import Sequence

SCHEMES: tuple[str, ...] = ("iob1", "bio", "bioes", "none")

_PREFIXES: dict[str, tuple[str, ...]] = {"iob1": ("B", "I"), "bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}


class TagSchemeError(ValueError):
    """A tag its scheme cannot parse; ``position`` lets a file reader point at the line."""

    def __init__(self, tag: str, position: int, problem: str) -> None:
        super().__init__(f"position {position}: {problem}")
        self.tag = tag
        self.position = position
        self.problem = problem


def check_conversion(source: str, target: str) -> None:
    """Raise ValueError unless tags in ``source`` can be rewritten in ``target``.

    Separate from ``convert_tags`` so configs can reject a bad pair before any file is read.
    """
    for role, scheme in (("source", source), ("target", target)):
        if scheme not in SCHEMES:
            raise ValueError(f"unknown {role} tag scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    if (source == "none") != (target == "none"):
        raise ValueError(
            f"cannot convert tags from scheme {source!r} to {target!r}: 'none' means tags without spans "
            f"(such as POS), which convert only to 'none'; span tags need a span scheme (iob1, bio or bioes) "
            f"on both sides"
        )


def convert_tags(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Rewrite one sentence's tags from scheme ``source`` into scheme ``target``.

    Raises ValueError for an impossible scheme pair, and TagSchemeError (a ValueError) naming
    the tag and its 0-based position for a tag ``source`` cannot parse.
    """
    check_conversion(source, target)
    if source == "none":
        return list(tags)
    return _encode(_decode(tags, source), target)


def _decode(tags: Sequence[str], scheme: str) -> list[tuple[str | None, bool]]:
    """Each token's span type (None outside spans) and whether a span starts at it."""
    allowed = _PREFIXES[scheme]
    spans: list[tuple[str | None, bool]] = []
    continuable: str | None = None  # type of the span the next token may continue
    for position, tag in enumerate(tags):
        if tag == "O":
            spans.append((None, False))
            continuable = None
            continue
        prefix, dash, label = tag.partition("-")
        if not dash or prefix not in allowed:
            expected = ", ".join(f"{p}-TYPE" for p in allowed)
            raise TagSchemeError(tag, position, f"tag {tag!r} is not a valid {scheme} tag (expected O, {expected})")
        if not label:
            raise TagSchemeError(tag, position, f"tag {tag!r} has no type after {prefix + '-'!r}")
        spans.append((label, prefix in ("B", "S") or continuable != label))
        continuable = None if prefix in ("E", "S") else label
    return spans


def _encode(spans: list[tuple[str | None, bool]], scheme: str) -> list[str]:
    tags: list[str] = []
    last = len(spans) - 1
    for i, (label, starts) in enumerate(spans):
        if label is None:
            tags.append("O")
            continue
        if scheme == "bio":
            prefix = "B" if starts else "I"
        elif scheme == "iob1":
            prefix = "B" if starts and i > 0 and spans[i - 1][0] == label else "I"
        else:
            ends = i == last or spans[i + 1][0] != label or spans[i + 1][1]
            prefix = ("S" if ends else "B") if starts else ("E" if ends else "I")
        tags.append(f"{prefix}-{label}")
    return tags
