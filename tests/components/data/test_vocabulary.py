"""One vocabulary for all tasks, whether they read one file (Exp1) or a file each (Exp3)."""
from __future__ import annotations

from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import UNK, Vocabulary, VocabularyConfig


def sentence(words: str, source: str, tags: str | None = None) -> Sentence:
    split = words.split()
    return Sentence(tuple(split), tuple(tags.split()) if tags else tuple("O" * len(split)), source)


def test_words_of_every_tasks_training_file_share_one_vocabulary():
    pos = [sentence("the cat sat", "ptb/train.txt:1", "DT NN VBD")]
    chunk = [sentence("a dog ran", "conll2000/train.txt:1", "B-NP I-NP B-VP")]
    dev = [sentence("an owl flew", "ptb/dev.txt:1", "DT NN VBD")]
    vocab = Vocabulary.build(train={"pos": pos, "chunk": chunk}, all_labelled={"pos": pos + dev, "chunk": chunk},
                             config=VocabularyConfig(pretrained_words="none"))
    assert set(vocab.words) == {"@@PAD@@", UNK, "the", "cat", "sat", "a", "dog", "ran"}
    assert vocab.word_id("owl") == 1  # dev words are not training words
    assert vocab.labels == {"pos": ["DT", "NN", "VBD"], "chunk": ["B-NP", "B-VP", "I-NP"]}
    assert set("thecatsadogrn") <= set(vocab.chars)


def test_a_file_read_by_several_tasks_counts_once_for_min_count():
    """POS, chunking and NER of CoNLL-2003 read the same sentences: a word seen once in the
    text is seen once, not three times."""
    shared = [sentence("EU rejects", "train.txt:3"), sentence("EU calls", "train.txt:9")]
    other_file = [sentence("rejects", "other.txt:1")]
    vocab = Vocabulary.build(train={"pos": shared, "chunk": shared, "ner": shared + other_file},
                             all_labelled={}, config=VocabularyConfig(min_count=2, pretrained_words="none"))
    assert vocab.words[2:] == ["EU", "rejects"]  # "calls" is seen once however many tasks read it
