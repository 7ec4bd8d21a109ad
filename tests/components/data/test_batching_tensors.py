"""Batches cut from a dataset's tensors equal those the per-sentence collate built before them."""
from __future__ import annotations

import random

import torch

from sparse_sharing.components.data.batching import BatchStream, IndexedDataset, evaluation_batches


def _collate_reference(words, chars, tags, indices):
    """The per-sentence, per-word collate the tensors replaced, kept as the reference."""
    batch_size, max_len = len(indices), max(len(words[i]) for i in indices)
    max_chars = max(len(c) for i in indices for c in chars[i])
    w = torch.zeros(batch_size, max_len, dtype=torch.long)
    c = torch.zeros(batch_size, max_len, max(max_chars, 1), dtype=torch.long)
    m = torch.zeros(batch_size, max_len, dtype=torch.bool)
    t = torch.zeros(batch_size, max_len, dtype=torch.long)
    for b, i in enumerate(indices):
        n = len(words[i])
        w[b, :n] = torch.tensor(words[i])
        m[b, :n] = True
        for j, word_chars in enumerate(chars[i]):
            c[b, j, : len(word_chars)] = torch.tensor(word_chars)
        t[b, :n] = torch.tensor(tags[i])
    return w, c, m, m.sum(1), t


def _random_corpus(seed: int, count: int = 40):
    rng = random.Random(seed)
    words, chars, tags = [], [], []
    for _ in range(count):
        n = rng.randint(1, 12)
        words.append([rng.randint(1, 50) for _ in range(n)])
        chars.append([[rng.randint(1, 20) for _ in range(rng.randint(1, 9))] for _ in range(n)])
        tags.append([rng.randint(0, 6) for _ in range(n)])
    return words, chars, tags


def test_batches_equal_the_reference_collate() -> None:
    words, chars, tags = _random_corpus(0)
    dataset = IndexedDataset(words, chars, tags)
    rng = random.Random(1)
    for _ in range(30):
        indices = rng.sample(range(len(words)), rng.randint(1, 10))
        batch = dataset.batch(indices)
        expected = _collate_reference(words, chars, tags, indices)
        for got, want in zip((batch.words, batch.chars, batch.padding_mask, batch.lengths, batch.tags), expected):
            assert got.dtype == want.dtype and torch.equal(got, want)
        assert batch.indices == indices


def test_untagged_dataset_has_no_tags_and_streams_resume() -> None:
    words, chars, _ = _random_corpus(2)
    dataset = IndexedDataset(words, chars, None)
    assert dataset.batch([0, 1]).tags is None
    assert dataset.words[int(dataset.offsets[3]): int(dataset.offsets[4])].tolist() == words[3]
    stream = BatchStream(dataset, 4, seed=5, stream_id=0)
    first = [stream.next_batch().indices for _ in range(15)]
    again = BatchStream(dataset, 4, seed=5, stream_id=0)
    again.load_state_dict({"pass_number": 0, "position": 7})
    assert [again.next_batch().indices for _ in range(8)] == first[7:]


def test_evaluation_batches_cover_every_sentence_by_length() -> None:
    words, chars, tags = _random_corpus(3)
    seen = [i for b in evaluation_batches(IndexedDataset(words, chars, tags), 7) for i in b.indices]
    assert sorted(seen) == list(range(len(words)))
    assert [len(words[i]) for i in seen] == sorted(len(w) for w in words)


def test_batches_carry_their_sentences_tokens_in_batch_order() -> None:
    from sparse_sharing.components.data.batching import index_sentences
    from sparse_sharing.components.data.sentence import Sentence
    from sparse_sharing.components.data.vocabulary import PAD, UNK, Vocabulary

    vocab = Vocabulary([PAD, UNK, "the"], [PAD, UNK, *"the"], {}, False)
    sentences = [Sentence(("The", "Über"), None, "a"), Sentence(("the",), None, "b"),
                 Sentence(("x", "y", "z"), None, "c")]
    dataset = index_sentences(sentences, vocab, None)
    batch = dataset.batch([2, 0])
    assert batch.tokens == [("x", "y", "z"), ("The", "Über")]  # as written: case and unknown words kept
    assert batch.to(torch.device("cpu")).tokens == batch.tokens
    assert IndexedDataset([[2]], [[[2]]], None).batch([0]).tokens is None
