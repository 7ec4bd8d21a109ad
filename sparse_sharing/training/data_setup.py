"""From a validated config to readers, sentences, a vocabulary and indexed instances."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sparse_sharing.components.data.batching import IndexedDataset, index_sentences
from sparse_sharing.components.data.conll import parse_once
from sparse_sharing.components.data.holdout import split_off_dev
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.embedders.pretrained import load_vectors
from sparse_sharing.registry import DATASET_READERS
from sparse_sharing.registry.contracts import ClosedLabelReader

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass
class TaskData:
    reader: Any
    sentences: dict[str, list[Sentence]]  # split → sentences; test may be absent
    instances: dict[str, IndexedDataset] = field(default_factory=dict)

    @property
    def tag_scheme(self) -> str:
        return self.reader.tag_scheme


def read_tasks(config: Any, tasks: list[str]) -> dict[str, TaskData]:
    """Each task's splits, read from its own files with its own reader; a file that several
    tasks read (CoNLL-2003's three columns) is parsed once."""
    with parse_once():
        return {task: _read_task(task, config.tasks[task]) for task in tasks}


def _read_task(task: str, task_config: Any) -> TaskData:
    """A task with ``dev_from_train`` gets its dev set cut out of its training file here, the one
    place every command reads data through (training, mask-search workers, resume, validate), so
    all of them select on the same held-out sentences and never train on them. A reader whose
    labels the training split closes (``ClosedLabelReader``) maps dev and test into them here,
    after that cut, so the held-out part is mapped as any dev set."""
    reader = DATASET_READERS.build(task_config.dataset_reader)
    read = {split: reader.read(path) for split in SPLITS
            if (path := getattr(task_config, f"{split}_path")) is not None}
    if task_config.dev_from_train is not None:
        read["train"], read["dev"] = split_off_dev(read["train"], task_config.dev_from_train,
                                                   f"tasks.{task}.dev_from_train")
    if isinstance(reader, ClosedLabelReader):  # e.g. positions beyond the longest training sentence
        training_labels = {tag for sentence in read["train"] for tag in sentence.tags}
        read.update({split: reader.close_labels(read[split], training_labels) for split in ("dev", "test")
                     if split in read})
    sentences = {split: read[split] for split in SPLITS if split in read}
    logger.info("task %s: %s sentences%s", task, ", ".join(f"{s} {len(v)}" for s, v in sentences.items()),
                "" if task_config.dev_from_train is None else f" (dev held out of {task_config.train_path})")
    return TaskData(reader, sentences)


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
