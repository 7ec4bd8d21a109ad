"""Shared fixtures for tests that drive the real ``ssl`` command.

The corpus and config are tiny on purpose (tens of sentences, dimensions of 8), so a full
training run through the CLI takes seconds and the tests can be run beside real work.
Test modules import the plain helpers (``run_ssl``, ``write_tiny_corpus``...) from here
when they need them in module-scoped fixtures, where ``tmp_path`` is not available.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest
import torch

from sparse_sharing.components.data.toy_corpus import write_conll

SIZES = {"train": 40, "dev": 15, "test": 15}
DOCSTART = "-DOCSTART- -X- O O"

# Two sentences in CoNLL-2003's layout (IOB1), for the readers' tests.
SAMPLE = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
"""

DEFAULT_CALLBACKS: list[dict[str, Any]] = [
    {"type": "progress_bar"},
    {"type": "tensorboard"},
    {"type": "checkpoint"},
]

# Subprocesses must not fan out over the cores that other work on the machine is using.
_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

# Nor must the tests' own process: the suite runs in one pytest-xdist worker per core, and a worker
# whose torch spread over every core would take the other workers' cores. One thread is also what
# the tiny configs ask of a run (num_threads: 1), so in-process and CLI runs compute alike.
torch.set_num_threads(1)


def run_ssl(*args: Any, cwd: str | Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m sparse_sharing ARGS`` as a user would, capturing text output (``env`` adds variables)."""
    return subprocess.run(
        [sys.executable, "-m", "sparse_sharing", *map(str, args)],
        cwd=cwd, env={**_ENV, **(env or {})}, capture_output=True, text=True, timeout=300,
    )


def read_sentences(path: Path) -> list[list[str]]:
    """Sentences of a CoNLL file as lists of token lines, without document markers."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if current:
                sentences.append(current)
                current = []
            continue
        current.append(line)
    if current:
        sentences.append(current)
    return sentences


def write_sentences(path: Path, sentences: Sequence[Sequence[str]], docstart: bool = True) -> Path:
    lines = [DOCSTART, ""] if docstart else []
    for sentence in sentences:
        lines.extend(sentence)
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_tiny_corpus(directory: Path) -> dict[str, Path]:
    """The first few sentences of each split of the embedded toy corpus, as 4-column CoNLL (BIO)."""
    directory.mkdir(parents=True, exist_ok=True)
    full = write_conll(directory / "full")
    paths = {}
    for split, size in SIZES.items():
        sentences = read_sentences(full[split])[:size]
        paths[split] = write_sentences(directory / f"{split}.txt", sentences)
    return paths


def tiny_config_text(corpus: dict[str, Path], num_epochs: int = 2,
                     callbacks: Sequence[dict[str, Any]] = DEFAULT_CALLBACKS) -> str:
    paths = {split: json.dumps(str(path)) for split, path in corpus.items()}
    return f"""// Tiny three-task experiment for the tests: hard sharing, dimensions of 8.
local conll(column, input_scheme, tag_scheme) = {{
  type: 'conll', tag_column: column, input_scheme: input_scheme, tag_scheme: tag_scheme,
}};
local task(reader, metric, head) = {{
  dataset_reader: reader,
  train_path: {paths['train']},
  dev_path: {paths['dev']},
  test_path: {paths['test']},
  metric: {{ type: metric }},
  head: {{ type: head }},
}};
{{
  seed: 7,
  num_threads: 1,
  tasks: {{
    pos: task(conll(1, 'none', 'none'), 'accuracy', 'softmax'),
    chunk: task(conll(2, 'bio', 'bio'), 'span_f1', 'crf'),
    ner: task(conll(3, 'bio', 'bioes'), 'span_f1', 'crf'),
  }},
  vocabulary: {{ lowercase_words: false, min_count: 1, pretrained_words: 'none' }},
  model: {{
    token_embedders: [
      {{ type: 'word', dim: 8 }},
      {{ type: 'char_cnn', char_dim: 8, num_filters: 8, kernel_size: 3, dropout: 0.1 }},
    ],
    embedding_dropout: 0.1,
    encoder: {{ type: 'bilstm', hidden_size: 8, num_layers: 1, dropout: 0.1 }},
    sharing: {{ type: 'hard' }},
  }},
  trainer: {{
    num_epochs: {num_epochs},
    batch_size: 8,
    eval_batch_size: 16,
    optimizer: {{ type: 'adam', lr: 0.01 }},
    callbacks: {json.dumps(list(callbacks))},
  }},
}}
"""


def write_tiny_config(path: Path, corpus: dict[str, Path], **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tiny_config_text(corpus, **options), encoding="utf-8")
    return path


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> dict[str, Path]:
    return write_tiny_corpus(tmp_path / "data")


@pytest.fixture
def tiny_config(tmp_path: Path, tiny_corpus: dict[str, Path]) -> Path:
    return write_tiny_config(tmp_path / "tiny.jsonnet", tiny_corpus)


def ner_only_config(path: Path, corpus: dict[str, Path], num_epochs: int, **trainer: Any) -> Path:
    """The tiny experiment with its CRF task (ner) alone, ``trainer`` settings added (e.g.
    ``compile=True``, ``precision="bf16"``): for tests of how a run computes."""
    text = tiny_config_text(corpus, num_epochs=num_epochs)
    text = text.replace("num_threads: 1,", "num_threads: 1,\n  train_tasks: ['ner'],")
    settings = "".join(f"\n    {key}: {json.dumps(value)}," for key, value in trainer.items())
    path.write_text(text.replace("batch_size: 8,", "batch_size: 8," + settings), encoding="utf-8")
    return path


def read_metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
