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

The steps, each a few lines below: tokens → ids with the sidecar's vocabularies (``Lookup``);
the network gives emissions [sentences, tokens, tags]; the best tag sequence of each sentence
under the CRF's transitions (``viterbi``, a batch at a time), or each token's best tag for a
softmax head; ids →
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


class Lookup:
    """Tokens to the network's input ids, with the sidecar's vocabularies as dicts built once (building
    them is most of what encoding a batch would otherwise cost). The lookup rule is the training
    pipeline's: a word as is, or ``str.lower()`` of it when ``words.lowercase``; its first
    ``chars.max_per_word`` characters, case kept; anything not in a vocabulary gets its ``unknown`` id."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.words, self.chars = meta["words"], meta["chars"]
        self.word_index = {w: i for i, w in enumerate(self.words["vocabulary"])}
        self.char_index = {c: i for i, c in enumerate(self.chars["vocabulary"])}

    def encode(self, sentences: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
        """The network's inputs for ``sentences``: ``words`` [B, T], ``chars`` [B, T, C] and ``lengths``
        [B] (int64), padded with the padding ids."""
        words, chars = self.words, self.chars
        lowercase, limit = words["lowercase"], chars["max_per_word"]
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        width = max([len(token[:limit]) for s in sentences for token in s] + [1])
        word_ids = np.full((len(sentences), lengths.max()), words["padding"], dtype=np.int64)
        char_ids = np.full((len(sentences), lengths.max(), width), chars["padding"], dtype=np.int64)
        for b, sentence in enumerate(sentences):
            for t, token in enumerate(sentence):
                word_ids[b, t] = self.word_index.get(token.lower() if lowercase else token, words["unknown"])
                for c, char in enumerate(token[:limit]):
                    char_ids[b, t, c] = self.char_index.get(char, chars["unknown"])
        return {"words": word_ids, "chars": char_ids, "lengths": lengths}


def viterbi(emissions: np.ndarray, lengths: Sequence[int], transitions: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> list[list[int]]:
    """The highest-scoring tag ids of each sentence of a batch: ``emissions`` [B, T, K] (sentence b's
    first ``lengths[b]`` rows), ``transitions[i, j]`` scores tag i followed by j, ``start``/``end``
    the first and last tag (all float32; ties go to the lower id). The whole batch moves one time
    step at a time; a sentence that has ended keeps its scores, and its back-pointers at the later
    steps point each tag to itself, so its path is the one it would have alone."""
    batch, steps, tags = emissions.shape
    lengths = np.asarray(lengths)
    score = start + emissions[:, 0]  # [B, K]
    stay = np.broadcast_to(np.arange(tags), (batch, tags))
    backpointers = []
    for t in range(1, steps):
        moves = score[:, :, None] + transitions  # [B, previous, next]
        going = (t < lengths)[:, None]
        backpointers.append(np.where(going, moves.argmax(axis=1), stay))
        score = np.where(going, moves.max(axis=1) + emissions[:, t], score)
    best = (score + end).argmax(axis=1)
    paths = [best]
    for pointers in reversed(backpointers):
        best = pointers[np.arange(batch), best]
        paths.append(best)
    ids = np.stack(paths[::-1], axis=1)  # [B, T]
    return [ids[b, :n].tolist() for b, n in enumerate(lengths.tolist())]


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
        self._lookup = Lookup(self.meta)
        crf = self.meta["crf"]
        self._crf = None if crf is None else tuple(
            np.asarray(crf[key], dtype=np.float32) for key in ("transitions", "start", "end"))

    def emissions(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The network's scores [B, T, K] for ``Lookup.encode``'s inputs."""
        if self.meta["format"] == "onnx":
            return self._session.run(["emissions"], inputs)[0]
        import torch

        with torch.inference_mode():
            return self._module(*(torch.from_numpy(inputs[k]) for k in ("words", "chars", "lengths"))).numpy()

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[list[str]]:
        """One tag per token of each sentence (a non-empty list of tokens). Sentences are batched by
        length, so a batch pads little, and the tags come back in the order given."""
        if any(len(s) == 0 for s in sentences):
            raise ValueError("every sentence needs at least one token")
        tags = self.meta["tags"]
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        tagged: list[list[str]] = [[] for _ in sentences]
        for first in range(0, len(order), batch_size):
            chunk = order[first: first + batch_size]
            inputs = self._lookup.encode([sentences[i] for i in chunk])
            scores = self.emissions(inputs)
            if self._crf is not None:
                ids = viterbi(scores, inputs["lengths"], *self._crf)
            else:
                ids = [row[:n].argmax(axis=1).tolist() for row, n in zip(scores, inputs["lengths"])]
            for i, sentence_ids in zip(chunk, ids):
                tagged[i] = convert_tags([tags["labels"][k] for k in sentence_ids], tags["scheme"],
                                         tags["output_scheme"])
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
