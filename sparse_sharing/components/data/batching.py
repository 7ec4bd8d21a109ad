"""Sentences to padded tensors, and length-bucketed batch streams that can resume mid-training.

A stream's order is a pure function of (seed, stream id, pass number) — the stream id is the
task's place in the run's task list — so saving the pass number and the position within it is
enough to resume exactly where an interrupted run stopped.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.registry import PluginDeprecationWarning


@dataclass
class Batch:
    words: torch.Tensor  # [B, T] word ids
    chars: torch.Tensor  # [B, T, C] char ids
    padding_mask: torch.Tensor  # [B, T] bool, True at real tokens (a prefix of each row), False at padding
    lengths: torch.Tensor  # [B] on the CPU, as pack_padded_sequence wants
    tags: torch.Tensor | None  # [B, T] label ids or None when predicting
    indices: list[int]  # positions of these sentences in their dataset
    # [B, T] ids of the tokens' spellings (equal ids, equal ``chars`` rows; 0 = padding), so a
    # character encoder can encode each distinct spelling once; None where unknown.
    spellings: torch.Tensor | None = None
    # Each sentence's tokens as written in the data, for embedders that read text rather than
    # vocabulary ids (a pretrained transformer's own tokenizer); None where unknown.
    tokens: list[tuple[str, ...]] | None = None

    def to(self, device: torch.device) -> "Batch":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.words), move(self.chars), move(self.padding_mask), self.lengths, move(self.tags),
                     self.indices, move(self.spellings), self.tokens)

    @property
    def mask(self) -> torch.Tensor:
        """The former name of ``padding_mask`` ("mask" names the pruning masks alone now)."""
        warnings.warn("Batch.mask is now Batch.padding_mask; the old name will be removed in a later release",
                      PluginDeprecationWarning, stacklevel=2)
        return self.padding_mask

    def num_tokens(self) -> int:
        return int(self.lengths.sum())


class IndexedDataset:
    """One split of one task as flat tensors, built once: batches are cut from it by indexing.

    Why: turning Python lists into tensors per batch (a ``torch.tensor`` call per word's
    characters) was 6 % of a training step and 27 % of decoding. Here all tokens of the split
    sit end to end (``words``, ``tags`` and ``spellings``, an id per distinct character
    sequence, whose rows ``chars`` holds), sentence i spans ``offsets[i]:offsets[i+1]``, and
    one extra row at the end serves every padded position (word 0, spelling 0 = no characters),
    so a batch is a few gathers with no per-token Python work. ``tokens``, where given, are the
    sentences' words as text, handed to a batch as they are (``Batch.tokens``).
    """

    def __init__(self, words: Sequence[Sequence[int]], chars: Sequence[Sequence[Sequence[int]]],
                 tags: Sequence[Sequence[int]] | None, tokens: Sequence[tuple[str, ...]] | None = None) -> None:
        sentence_lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        self.lengths = torch.from_numpy(sentence_lengths)
        self.offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(sentence_lengths)]))
        self.num_tokens = int(self.offsets[-1])
        self.pad_row = self.num_tokens
        self.words = _flat(words, self.num_tokens)
        self.tags = None if tags is None else _flat(tags, self.num_tokens)
        self.tokens = None if tokens is None else list(tokens)
        spelling_ids: dict[tuple[int, ...], int] = {(): 0}
        token_spellings = [spelling_ids.setdefault(tuple(c), len(spelling_ids)) for sentence in chars for c in sentence]
        self.spellings = torch.tensor(token_spellings + [0], dtype=torch.long)
        self.chars, self.spelling_lengths = _char_table(list(spelling_ids))

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, indices: list[int]) -> Batch:
        """Sentences ``indices``, padded to the longest of them (and its longest word)."""
        chosen = torch.tensor(indices, dtype=torch.long)
        lengths = self.lengths[chosen]
        steps = torch.arange(int(lengths.max()))
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)
        rows = torch.where(mask, self.offsets[chosen].unsqueeze(1) + steps, self.pad_row)
        spellings = self.spellings[rows]
        width = max(int(self.spelling_lengths[spellings].max()), 1)
        tags = None if self.tags is None else self.tags[rows]
        tokens = None if self.tokens is None else [self.tokens[i] for i in indices]
        return Batch(self.words[rows], self.chars[spellings, :width], mask, lengths, tags, list(indices), spellings,
                     tokens)


def _char_table(spellings: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each spelling's char ids as a row, 0-padded to the longest, and each row's length."""
    counts = np.fromiter((len(s) for s in spellings), dtype=np.int64, count=len(spellings))
    flat = np.fromiter((i for s in spellings for i in s), dtype=np.int64, count=int(counts.sum()))
    rows = np.repeat(np.arange(len(spellings)), counts)
    columns = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    table = np.zeros((len(spellings), max(int(counts.max(initial=0)), 1)), dtype=np.int64)
    table[rows, columns] = flat
    return torch.from_numpy(table), torch.from_numpy(counts)


def _flat(rows: Sequence[Sequence[int]], num_tokens: int) -> torch.Tensor:
    """``rows`` end to end, plus the padding row's 0."""
    flat = np.zeros(num_tokens + 1, dtype=np.int64)
    flat[:num_tokens] = np.fromiter((i for row in rows for i in row), dtype=np.int64, count=num_tokens)
    return torch.from_numpy(flat)


MAX_WORD_CHARS = 30  # characters of a word the character encoders see; longer words are cut


def index_sentences(sentences: Sequence[Sentence], vocab: Vocabulary, task: str | None,
                    max_word_chars: int = MAX_WORD_CHARS) -> IndexedDataset:
    """Ids for words, characters (long words cut at ``max_word_chars``) and, given a task, tags."""
    tags = None
    if task is not None and all(s.tags is not None for s in sentences):
        tags = [[vocab.label_id(task, t) for t in s.tags] for s in sentences]
    return IndexedDataset([[vocab.word_id(w) for w in s.words] for s in sentences],
                          [[vocab.char_ids(w[:max_word_chars]) for w in s.words] for s in sentences], tags,
                          [tuple(s.words) for s in sentences])


def bucketed_order(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Batches of sentences of similar length, in shuffled order.

    Sorting by length plus uniform noise of ±1 token keeps padding low while letting
    equal-length sentences meet different neighbours on every pass.
    """
    keys = np.asarray(lengths, dtype=np.float64) + rng.uniform(-1.0, 1.0, size=len(lengths))
    order = np.argsort(keys, kind="stable")
    batches = [order[i: i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    permutation = rng.permutation(len(batches))
    return [batches[i] for i in permutation]


def evaluation_batches(dataset: IndexedDataset, batch_size: int) -> Iterator[Batch]:
    """Fixed, length-sorted batches: evaluation order never depends on a seed."""
    order = np.argsort(dataset.lengths.numpy(), kind="stable").tolist()
    for start in range(0, len(order), batch_size):
        yield dataset.batch(order[start: start + batch_size])


class BatchStream:
    """An endless, resumable sequence of training batches for one task."""

    def __init__(self, dataset: IndexedDataset, batch_size: int, seed: int, stream_id: int) -> None:
        if not len(dataset):
            raise ValueError("cannot stream batches from an empty dataset")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.stream_id = stream_id
        self.pass_number = 0
        self.position = 0
        self._order = self._make_order()

    @property
    def batches_per_pass(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def _make_order(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.stream_id, self.pass_number])
        return bucketed_order(self.dataset.lengths.tolist(), self.batch_size, rng)

    def next_batch(self) -> Batch:
        if self.position >= len(self._order):
            self.pass_number += 1
            self.position = 0
            self._order = self._make_order()
        chunk = self._order[self.position]
        self.position += 1
        return self.dataset.batch(chunk)

    def state_dict(self) -> dict:
        return {"pass_number": self.pass_number, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.pass_number = state["pass_number"]
        self.position = state["position"]
        self._order = self._make_order()
