"""The paper's base network and training step in plain PyTorch, as a user would write them without
the framework: the yardstick `side_by_side.py` measures the project against.

Word embeddings + a character CNN (embedding, dropout, one Conv1d, max over the word), dropout,
one packed bidirectional `nn.LSTM`, dropout, a linear layer and a linear-chain CRF per task;
SGD with momentum, gradient-norm clipping. Sentences are turned into tensors once when the
dataset is built (one tensor per sentence and field) and padded per batch with `pad_sequence`,
the usual `Dataset` + `collate_fn` pattern. Nothing here is imported by the package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence


@dataclass
class PlainBatch:
    words: Tensor  # [B, T]
    chars: Tensor  # [B, T, C]
    tags: Tensor | None  # [B, T]
    lengths: Tensor  # [B], CPU
    padding_mask: Tensor  # [B, T] bool


class PlainDataset:
    """Per sentence: word ids [n], char ids [n, c] (0-padded within the sentence) and tag ids [n]."""

    def __init__(self, words: Sequence[Sequence[int]], chars: Sequence[Sequence[Sequence[int]]],
                 tags: Sequence[Sequence[int]] | None) -> None:
        self.words = [torch.tensor(w, dtype=torch.long) for w in words]
        self.chars = [pad_sequence([torch.tensor(c, dtype=torch.long) for c in sentence], batch_first=True)
                      for sentence in chars]
        self.tags = None if tags is None else [torch.tensor(t, dtype=torch.long) for t in tags]

    def __len__(self) -> int:
        return len(self.words)

    def collate(self, indices: Sequence[int], device: torch.device) -> PlainBatch:
        words = pad_sequence([self.words[i] for i in indices], batch_first=True)
        width = max(self.chars[i].shape[1] for i in indices)
        chars = torch.zeros(len(indices), words.shape[1], width, dtype=torch.long)
        for row, i in enumerate(indices):
            sentence = self.chars[i]
            chars[row, : sentence.shape[0], : sentence.shape[1]] = sentence
        tags = None if self.tags is None else pad_sequence([self.tags[i] for i in indices], batch_first=True)
        lengths = torch.tensor([len(self.words[i]) for i in indices])
        mask = torch.arange(words.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return PlainBatch(move(words), move(chars), move(tags), lengths, move(mask))


class PlainCRF(nn.Module):
    """Batched linear-chain CRF: forward algorithm for the partition, Viterbi for decoding."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        alpha = self.start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end, dim=1)
        gold = self.start[tags[:, 0]] + (emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * mask).sum(1)
        gold = gold + (self.transitions[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return log_z - gold - self.end[last]

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        score = self.start + emissions[:, 0]
        history = []
        for t in range(1, emissions.shape[1]):
            best, index = (score.unsqueeze(2) + self.transitions).max(dim=1)
            keep = mask[:, t : t + 1]
            score = torch.where(keep, best + emissions[:, t], score)
            history.append(torch.where(keep, index, torch.arange(score.shape[1], device=score.device)))
        current = (score + self.end).argmax(1)
        path = [current]
        for index in reversed(history):
            current = index.gather(1, current.unsqueeze(1)).squeeze(1)
            path.append(current)
        rows = torch.stack(path[::-1], 1).tolist()
        return [row[:n] for row, n in zip(rows, mask.sum(1).tolist())]


class PlainTagger(nn.Module):
    """Ma & Hovy's CNN-BiLSTM with one CRF head per task; all tasks share everything but the heads."""

    def __init__(self, num_words: int, num_chars: int, tag_counts: dict[str, int], word_dim: int = 50,
                 char_dim: int = 30, filters: int = 30, hidden: int = 200, dropout: float = 0.5) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, word_dim, padding_idx=0)
        self.chars = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, 3, padding=1)
        self.lstm = nn.LSTM(word_dim + filters, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(2 * hidden, n) for t, n in tag_counts.items()})
        self.crfs = nn.ModuleDict({t: PlainCRF(n) for t, n in tag_counts.items()})

    def features(self, batch: PlainBatch) -> Tensor:
        b, t, c = batch.chars.shape
        chars = batch.chars.view(b * t, c)
        x = self.conv(self.dropout(self.chars(chars)).transpose(1, 2))
        x = x.masked_fill((chars == 0).unsqueeze(1), float("-inf")).max(2).values
        x = torch.where(torch.isinf(x), torch.zeros_like(x), x).view(b, t, -1)
        x = self.dropout(torch.cat([self.words(batch.words), x], dim=-1))
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=t)
        return self.dropout(out)

    def loss(self, batch: PlainBatch, task: str) -> Tensor:
        emissions = self.heads[task](self.features(batch))
        return self.crfs[task].nll(emissions, batch.tags, batch.padding_mask).sum() / batch.padding_mask.sum()

    @torch.no_grad()
    def decode(self, batch: PlainBatch, task: str) -> list[list[int]]:
        return self.crfs[task].viterbi(self.heads[task](self.features(batch)), batch.padding_mask)


def train_step(model: PlainTagger, optimizer: torch.optim.Optimizer, batch: PlainBatch, task: str) -> float:
    """zero_grad, loss, backward, clip the gradient norm at 5, step."""
    optimizer.zero_grad(set_to_none=True)
    loss = model.loss(batch, task)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    return float(loss.detach())


def sgd(model: nn.Module) -> torch.optim.Optimizer:
    """The paper's optimizer: SGD, lr 0.1, momentum 0.9."""
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
