"""From a validated config to readers, sentences, a vocabulary and indexed instances."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sparse_sharing.components.data.batching import Instance, index_sentences
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.embedders.pretrained import load_vectors
from sparse_sharing.registry import DATASET_READERS

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass
class TaskData:
    reader: Any
    sentences: dict[str, list[Sentence]]  # split → sentences; test may be absent
    instances: dict[str, list[Instance]] = field(default_factory=dict)

    @property
    def tag_scheme(self) -> str:
        return self.reader.tag_scheme


def read_tasks(config: Any, tasks: list[str]) -> dict[str, TaskData]:
    data = {}
    for task in tasks:
        task_config = config.tasks[task]
        reader = DATASET_READERS.build(task_config.dataset_reader)
        sentences = {}
        for split in SPLITS:
            path = getattr(task_config, f"{split}_path")
            if path is not None:
                sentences[split] = reader.read(path)
        logger.info("task %s: %s", task, ", ".join(f"{s} {len(v)} sentences" for s, v in sentences.items()))
        data[task] = TaskData(reader, sentences)
    return data


def pretrained_words(config: Any) -> list[str]:
    words: list[str] = []
    for embedder in config.model.token_embedders:
        pretrained = getattr(embedder, "pretrained", None)
        if pretrained is not None:
            words.extend(load_vectors(pretrained)[0])
    return words


def build_vocabulary(config: Any, data: dict[str, TaskData]) -> Vocabulary:
    other_words = (w for d in data.values() for split in ("dev", "test") for s in d.sentences.get(split, ())
                   for w in s.words)
    return Vocabulary.build(
        train={t: d.sentences["train"] for t, d in data.items()},
        all_labelled={t: [s for split in d.sentences.values() for s in split] for t, d in data.items()},
        config=config.vocabulary,
        pretrained_words=pretrained_words(config),
        other_words=other_words,
    )


def index_tasks(data: dict[str, TaskData], vocab: Vocabulary) -> None:
    for task, task_data in data.items():
        task_data.instances = {split: index_sentences(s, vocab, task) for split, s in task_data.sentences.items()}
