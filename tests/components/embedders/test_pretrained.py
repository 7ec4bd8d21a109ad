"""Pretrained vectors from a GloVe-format text file: values copied for known words, case folded."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary, VocabularyConfig
from sparse_sharing.components.embedders.pretrained import GloveFileConfig, load_vectors, word_index
from sparse_sharing.components.embedders.word import WordEmbedder, WordEmbedderConfig
from sparse_sharing.errors import ConfigError, DataError


def glove_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text(text)
    return path


def vocabulary(pretrained: list[str], mode: str, lowercase: bool) -> Vocabulary:
    train = [Sentence(("The", "cat", "sat"), ("D", "N", "V"), "t:1")]
    dev = [Sentence(("A", "dog"), ("D", "N"), "d:1")]
    return Vocabulary.build({"pos": train}, {"pos": train + dev},
                            VocabularyConfig(lowercase_words=lowercase, pretrained_words=mode),
                            pretrained_words=pretrained, other_words=["A", "dog"])


def test_vectors_are_copied_for_lowercased_lookups(tmp_path: Path) -> None:
    path = glove_file(tmp_path, "the 1 2 3\ncat 4 5 6\ndog 7 8 9\nunseen 0 0 1\n")
    words, _ = load_vectors(GloveFileConfig(source="file", path=str(path)))
    vocab = vocabulary(list(words), "in_data", lowercase=True)
    # in_data: pretrained words seen in any split join the vocabulary; 'unseen' does not.
    assert "dog" in vocab.words and "unseen" not in vocab.words
    config = WordEmbedderConfig(type="word", dim=3, pretrained=GloveFileConfig(source="file", path=str(path)))
    embedder = WordEmbedder(config, vocab)
    table = embedder.embedding.weight
    assert torch.equal(table[vocab.word_id("The")], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(table[vocab.word_id("DOG")], torch.tensor([7.0, 8.0, 9.0]))
    assert torch.equal(table[0], torch.zeros(3))  # padding


def test_cased_vocabulary_falls_back_to_the_lowercase_vector(tmp_path: Path) -> None:
    path = glove_file(tmp_path, "the 1 2 3\n")
    config = WordEmbedderConfig(type="word", dim=3, pretrained=GloveFileConfig(source="file", path=str(path)))
    vocab = vocabulary(["the"], "none", lowercase=False)
    embedder = WordEmbedder(config, vocab)
    assert torch.equal(embedder.embedding.weight[vocab.word_id("The")], torch.tensor([1.0, 2.0, 3.0]))


def test_dimension_mismatch_is_a_config_error(tmp_path: Path) -> None:
    path = glove_file(tmp_path, "the 1 2\n")
    config = WordEmbedderConfig(type="word", dim=3, pretrained=GloveFileConfig(source="file", path=str(path)))
    with pytest.raises(ConfigError, match="dim is 3 but the pretrained vectors have 2"):
        WordEmbedder(config, vocabulary(["the"], "none", lowercase=True))


@pytest.mark.parametrize("text, message", [
    ("the 1 2 3\ncat 4 5\n", r"vectors\.txt:2: expected 3 values, found 2"),
    ("the 1 x 3\n", r"vectors\.txt:1: expected a word then numbers"),
    ("", "no vectors found"),
])
def test_malformed_vector_files(tmp_path: Path, text: str, message: str) -> None:
    load_vectors.cache_clear()
    word_index.cache_clear()
    with pytest.raises(DataError, match=message):
        load_vectors(GloveFileConfig(source="file", path=str(glove_file(tmp_path, text))))


def test_missing_vector_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pretrained vectors file not found"):
        load_vectors(GloveFileConfig(source="file", path=str(tmp_path / "nope.txt")))
