"""Token, character and per-task label vocabularies, saved beside a run so it can be reloaded."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from sparse_sharing.components.data.sentence import Sentence

PAD = "@@PAD@@"
UNK = "@@UNK@@"


class VocabularyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lowercase_words: bool = Field(
        False, description="Look words up lowercased (GloVe's vocabulary is lowercase); characters keep their case."
    )
    min_count: int = Field(1, ge=1, description="Train words seen fewer times than this become unknown.")
    pretrained_words: str = Field(
        "in_data",
        pattern="^(none|in_data|all)$",
        description="Which words of the pretrained vectors join the vocabulary: none; in_data = those occurring "
        "in any configured data split (keeps the matrix small; no labels are read); all.",
    )


class Vocabulary:
    """Index 0 is padding and 1 is unknown for words and characters; labels have no specials."""

    def __init__(self, words: Sequence[str], chars: Sequence[str], labels: Mapping[str, Sequence[str]],
                 lowercase_words: bool) -> None:
        self.words = list(words)
        self.chars = list(chars)
        self.labels = {task: list(values) for task, values in labels.items()}
        self.lowercase_words = lowercase_words
        self._word_index = {w: i for i, w in enumerate(self.words)}
        self._char_index = {c: i for i, c in enumerate(self.chars)}
        self._label_index = {t: {l: i for i, l in enumerate(v)} for t, v in self.labels.items()}
        self._char_ids: dict[str, list[int]] = {}  # word → its characters' ids, filled as words are met

    @classmethod
    def build(
        cls,
        train: Mapping[str, Sequence[Sentence]],
        all_labelled: Mapping[str, Iterable[Sentence]],
        config: VocabularyConfig,
        pretrained_words: Iterable[str] = (),
        other_words: Iterable[str] = (),
    ) -> "Vocabulary":
        """Words and characters come from every task's train split, into one vocabulary the tasks share;
        labels from every split so dev/test never hold an unknown tag.

        ``other_words`` are the words of the other splits, used only to decide which pretrained
        vectors to keep when ``pretrained_words`` is ``in_data``.
        """
        norm = (lambda w: w.lower()) if config.lowercase_words else (lambda w: w)
        counts: Counter[str] = Counter()
        char_counts: Counter[str] = Counter()
        # Tasks reading one file (POS, chunking and NER of CoNLL-2003) hold the same sentences: count each
        # once, so that min_count counts occurrences in the training text, not times the tasks reading it.
        distinct = {(s.source, s.words): s for sentences in train.values() for s in sentences}
        for sentence in distinct.values():
            for word in sentence.words:
                counts[norm(word)] += 1
                char_counts.update(word)
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= config.min_count]
        if config.pretrained_words != "none":
            known = set(words)
            pretrained = [norm(w) for w in pretrained_words]
            if config.pretrained_words == "in_data":
                seen = set(counts) | {norm(w) for w in other_words}
                pretrained = [w for w in pretrained if w in seen]
            for word in pretrained:
                if word not in known:
                    known.add(word)
                    words.append(word)
        labels: dict[str, list[str]] = {}
        for task, sentences in all_labelled.items():
            seen_labels: set[str] = set()
            for sentence in sentences:
                seen_labels.update(sentence.tags or ())
            labels[task] = sorted(seen_labels)
        chars = sorted(char_counts)
        return cls([PAD, UNK, *words], [PAD, UNK, *chars], labels, config.lowercase_words)

    def word_id(self, word: str) -> int:
        return self._word_index.get(word.lower() if self.lowercase_words else word, 1)

    def char_id(self, char: str) -> int:
        return self._char_index.get(char, 1)

    def char_ids(self, word: str) -> list[int]:
        """The ids of the word's characters, memoised: CoNLL-2003's 300k tokens are 25k distinct words,
        indexed again for every task. Callers share the list and must not change it."""
        ids = self._char_ids.get(word)
        if ids is None:
            ids = self._char_ids[word] = [self.char_id(c) for c in word]
        return ids

    def label_id(self, task: str, label: str) -> int:
        return self._label_index[task][label]

    def label(self, task: str, index: int) -> str:
        return self.labels[task][index]

    def has_label(self, task: str, label: str) -> bool:
        return label in self._label_index[task]

    def to_json(self) -> dict:
        return {"lowercase_words": self.lowercase_words, "words": self.words, "chars": self.chars,
                "labels": self.labels}

    @classmethod
    def from_json(cls, data: Mapping) -> "Vocabulary":
        return cls(data["words"], data["chars"], data["labels"], data["lowercase_words"])

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls.from_json(json.loads(Path(path).read_text()))
