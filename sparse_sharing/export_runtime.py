"""Tag with a model that ``ssl export`` wrote, without sparse-sharing: numpy, plus onnxruntime (ONNX)
or torch (TorchScript).

``ssl export RUN --task ner -o ner.onnx`` writes ``ner.onnx`` (the task's network: words and
characters in, one score per tag and token out), ``ner.onnx.json`` (everything else: the
vocabularies, the lookup rule, the tags, the CRF's transition scores) and this file, as
``tagger_runtime.py``, beside them. Copy the three anywhere with numpy and onnxruntime:

    from tagger_runtime import ExportedTagger
    tagger = ExportedTagger("ner.onnx")
    tagger.predict([["EU", "rejects", "German", "call"]])   # [['I-ORG', 'O', 'I-MISC', 'O']]

or from a shell, for a file of tokens (one a line, a blank line between sentences), printing
each token and its tag: ``python tagger_runtime.py ner.onnx tokens.txt``.

The steps, each a few lines below: tokens → ids with the sidecar's vocabularies (``encode``);
the network gives emissions [sentences, tokens, tags]; the best tag sequence of each sentence
under the CRF's transitions (``viterbi``), or each token's best tag for a softmax head; ids →
tags, rewritten from the scheme the task trained in to the scheme of its data files
(``convert_tags``), which is what ``ssl predict`` prints.

This file imports nothing of sparse-sharing (tests run it where the package cannot be imported).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

FORMAT_VERSION = 1


def encode(sentences: Sequence[Sequence[str]], meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The network's inputs for ``sentences``: ``words`` [B, T], ``chars`` [B, T, C] and ``lengths`` [B]
    (int64), padded with the padding ids. The lookup rule is the training pipeline's: a word as is, or
    ``str.lower()`` of it when ``words.lowercase``; its first ``chars.max_per_word`` characters, case
    kept; anything not in a vocabulary gets its ``unknown`` id."""
    words, chars = meta["words"], meta["chars"]
    word_index = {w: i for i, w in enumerate(words["vocabulary"])}
    char_index = {c: i for i, c in enumerate(chars["vocabulary"])}
    lowercase, limit = words["lowercase"], chars["max_per_word"]
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    width = max([len(token[:limit]) for s in sentences for token in s] + [1])
    word_ids = np.full((len(sentences), lengths.max()), words["padding"], dtype=np.int64)
    char_ids = np.full((len(sentences), lengths.max(), width), chars["padding"], dtype=np.int64)
    for b, sentence in enumerate(sentences):
        for t, token in enumerate(sentence):
            word_ids[b, t] = word_index.get(token.lower() if lowercase else token, words["unknown"])
            for c, char in enumerate(token[:limit]):
                char_ids[b, t, c] = char_index.get(char, chars["unknown"])
    return {"words": word_ids, "chars": char_ids, "lengths": lengths}


def viterbi(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[int]:
    """The highest-scoring tag ids of one sentence: ``emissions`` [T, K], ``transitions[i, j]`` scores tag i
    followed by j, ``start``/``end`` the first and last tag (all float32; ties go to the lower id)."""
    score = start + emissions[0]
    backpointers = []
    for step in emissions[1:]:
        moves = score[:, None] + transitions  # [previous, next]
        backpointers.append(moves.argmax(axis=0))
        score = moves.max(axis=0) + step
    path = [int((score + end).argmax())]
    for pointers in reversed(backpointers):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def convert_tags(tags: Sequence[str], source: str, target: str) -> list[str]:
    """One sentence's span tags from scheme ``source`` to ``target`` (iob1, bio, bioes; ``none`` = no
    spans, unchanged). Tags are read into spans as conlleval reads them (an ``I-X`` that cannot continue
    a span starts one), then spelt in ``target``."""
    if source == target == "none":
        return list(tags)
    spans: list[tuple[str | None, bool]] = []  # each token's span type (None: outside) and whether one starts
    open_type = None  # the type a next token may continue
    for tag in tags:
        prefix, _, label = tag.partition("-")
        if tag == "O":
            spans.append((None, False))
            open_type = None
            continue
        spans.append((label, prefix in ("B", "S") or open_type != label))
        open_type = None if prefix in ("E", "S") else label
    out = []
    for i, (label, starts) in enumerate(spans):
        if label is None:
            out.append("O")
        elif target == "bio":
            out.append(f"{'B' if starts else 'I'}-{label}")
        elif target == "iob1":
            out.append(f"{'B' if starts and i > 0 and spans[i - 1][0] == label else 'I'}-{label}")
        else:
            ends = i == len(spans) - 1 or spans[i + 1][0] != label or spans[i + 1][1]
            out.append(f"{('S' if ends else 'B') if starts else ('E' if ends else 'I')}-{label}")
    return out


class ExportedTagger:
    """One exported task: ``predict`` gives the tags ``ssl predict`` gives for the same run and task."""

    def __init__(self, model_path: str | Path) -> None:
        self.path = Path(model_path)
        self.meta = json.loads(Path(f"{self.path}.json").read_text(encoding="utf-8"))
        if self.meta["format_version"] != FORMAT_VERSION:
            raise ValueError(f"{self.path}.json has format version {self.meta['format_version']}; this runtime "
                             f"reads version {FORMAT_VERSION}: export the run again with this runtime's ssl")
        if self.meta["format"] == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1  # one thread, as ssl predict
            self._session = onnxruntime.InferenceSession(str(self.path), options,
                                                         providers=["CPUExecutionProvider"])
        else:
            import torch

            torch.set_num_threads(1)
            self._module = torch.jit.load(str(self.path), map_location="cpu")
        crf = self.meta["crf"]
        self._crf = None if crf is None else tuple(
            np.asarray(crf[key], dtype=np.float32) for key in ("transitions", "start", "end"))

    def emissions(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The network's scores [B, T, K] for ``encode``'s inputs."""
        if self.meta["format"] == "onnx":
            return self._session.run(["emissions"], inputs)[0]
        import torch

        with torch.inference_mode():
            return self._module(*(torch.from_numpy(inputs[k]) for k in ("words", "chars", "lengths"))).numpy()

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[list[str]]:
        """One tag per token of each sentence (a non-empty list of tokens)."""
        if any(len(s) == 0 for s in sentences):
            raise ValueError("every sentence needs at least one token")
        tags = self.meta["tags"]
        tagged = []
        for first in range(0, len(sentences), batch_size):
            chunk = sentences[first: first + batch_size]
            scores = self.emissions(encode(chunk, self.meta))
            for row, sentence in zip(scores, chunk):
                row = row[: len(sentence)]
                ids = viterbi(row, *self._crf) if self._crf is not None else row.argmax(axis=1).tolist()
                tagged.append(convert_tags([tags["labels"][i] for i in ids], tags["scheme"], tags["output_scheme"]))
        return tagged


def read_tokens(path: str | Path) -> list[list[str]]:
    """Sentences of a file with one token a line (the first column; CoNLL's ``-DOCSTART-`` lines skipped)
    and blank lines between sentences."""
    sentences: list[list[str]] = [[]]
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and line.split()[0] != "-DOCSTART-":
            sentences[-1].append(line.split()[0])
        elif not line.strip() and sentences[-1]:
            sentences.append([])
    return [s for s in sentences if s]


def main(argv: Sequence[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python tagger_runtime.py MODEL TOKENS_FILE")
    sentences = read_tokens(argv[1])
    for sentence, tags in zip(sentences, ExportedTagger(argv[0]).predict(sentences)):
        print("\n".join(f"{word} {tag}" for word, tag in zip(sentence, tags)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
