"""Sentences to padded tensors, and length-bucketed batch streams that can resume mid-training.

A stream's order is a pure function of (seed, task, pass number), so saving the pass number
and the position within it is enough to resume exactly where an interrupted run stopped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary


@dataclass
class Batch:
    words: torch.Tensor  # [B, T] word ids
    chars: torch.Tensor  # [B, T, C] char ids
    mask: torch.Tensor  # [B, T] bool, a prefix of each row
    lengths: torch.Tensor  # [B] on the CPU, as pack_padded_sequence wants
    tags: torch.Tensor | None  # [B, T] label ids or None when predicting
    indices: list[int]  # positions of these sentences in their dataset

    def to(self, device: torch.device) -> "Batch":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Batch(move(self.words), move(self.chars), move(self.mask), self.lengths, move(self.tags),
                     self.indices)

    def num_tokens(self) -> int:
        return int(self.lengths.sum())


@dataclass
class Instance:
    words: list[int]
    chars: list[list[int]]
    tags: list[int] | None


def index_sentences(sentences: Sequence[Sentence], vocab: Vocabulary, task: str | None,
                    max_word_chars: int = 30) -> list[Instance]:
    """Ids for words, characters (long words cut at ``max_word_chars``) and, given a task, tags."""
    instances = []
    for s in sentences:
        tags = None
        if task is not None and s.tags is not None:
            tags = [vocab.label_id(task, t) for t in s.tags]
        instances.append(Instance([vocab.word_id(w) for w in s.words],
                                  [vocab.char_ids(w[:max_word_chars]) for w in s.words], tags))
    return instances


def collate(instances: Sequence[Instance], indices: list[int]) -> Batch:
    batch_size = len(instances)
    max_len = max(len(i.words) for i in instances)
    max_chars = max(len(c) for i in instances for c in i.chars)
    words = torch.zeros(batch_size, max_len, dtype=torch.long)
    chars = torch.zeros(batch_size, max_len, max(max_chars, 1), dtype=torch.long)
    mask = torch.zeros(batch_size, max_len, dtype=torch.bool)
    has_tags = all(i.tags is not None for i in instances)
    tags = torch.zeros(batch_size, max_len, dtype=torch.long) if has_tags else None
    for b, inst in enumerate(instances):
        n = len(inst.words)
        words[b, :n] = torch.tensor(inst.words)
        mask[b, :n] = True
        for t, word_chars in enumerate(inst.chars):
            chars[b, t, : len(word_chars)] = torch.tensor(word_chars)
        if tags is not None:
            tags[b, :n] = torch.tensor(inst.tags)
    lengths = mask.sum(1)
    return Batch(words, chars, mask, lengths, tags, indices)


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


def evaluation_batches(instances: Sequence[Instance], batch_size: int) -> Iterator[Batch]:
    """Fixed, length-sorted batches: evaluation order never depends on a seed."""
    order = sorted(range(len(instances)), key=lambda i: len(instances[i].words))
    for start in range(0, len(order), batch_size):
        chunk = order[start: start + batch_size]
        yield collate([instances[i] for i in chunk], chunk)


class BatchStream:
    """An endless, resumable sequence of training batches for one task."""

    def __init__(self, instances: Sequence[Instance], batch_size: int, seed: int, stream_id: int) -> None:
        if not instances:
            raise ValueError("cannot stream batches from an empty dataset")
        self.instances = instances
        self.batch_size = batch_size
        self.seed = seed
        self.stream_id = stream_id
        self.pass_number = 0
        self.position = 0
        self._order = self._make_order()

    @property
    def batches_per_pass(self) -> int:
        return (len(self.instances) + self.batch_size - 1) // self.batch_size

    def _make_order(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.stream_id, self.pass_number])
        return bucketed_order([len(i.words) for i in self.instances], self.batch_size, rng)

    def next_batch(self) -> Batch:
        if self.position >= len(self._order):
            self.pass_number += 1
            self.position = 0
            self._order = self._make_order()
        chunk = self._order[self.position]
        self.position += 1
        return collate([self.instances[i] for i in chunk], chunk)

    def state_dict(self) -> dict:
        return {"pass_number": self.pass_number, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.pass_number = state["pass_number"]
        self.position = state["position"]
        self._order = self._make_order()
