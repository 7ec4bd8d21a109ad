"""`ssl export`: one task of a trained run as one self-contained model file, for use without sparse-sharing.

What is written, for ``-o ner.onnx``:

- ``ner.onnx`` (or a TorchScript file): the task's network from word ids, character ids and
  sentence lengths to emissions, one score per tag and token, with the task's dev-best weights;
  for masked strategies (``sparse``, ``single_subnet``) each masked tensor is stored as
  W ⊙ M_t: the kept entries bit for bit, the pruned ones +0.0, and no mask operation in the graph;
  every other strategy (a plugin's too) is exported as its forward computes the task's features;
- ``ner.onnx.json``: what a consumer needs around it: the vocabularies with their padding and
  unknown ids, the lookup rule exactly as the data pipeline applies it, the tags, the scheme they
  are written in, the CRF's transition scores (disallowed moves as the decoder sees them), the
  source run and task, sizes, and the format version;
- ``tagger_runtime.py`` (``sparse_sharing.export_runtime``): encoding, Viterbi and the tag-scheme
  rewrite in numpy, with no import of sparse-sharing.

Why the TorchScript-based ONNX exporter (``dynamo=False``): torch's newer ``torch.export``-based
exporter traces ``aten::lstm`` through its per-step decomposition and fixes the sentence length to
the example's, so the file would only take sentences of one length; the TorchScript exporter
writes the LSTM as one ONNX ``LSTM`` node with every axis dynamic. Why the Viterbi in numpy rather
than in the graph: a loop in ONNX is a ``Loop`` node that is hard to read and slower to run at
these sizes than twenty lines of numpy.

What ONNX can and cannot store sparsely: initializers are dense tensors, so a sparse task's file
is as large as a dense one; its zeros show only once compressed (the size report gives the gzip
size). ONNX has a ``SparseTensorProto``, but onnxruntime multiplies MatMul and LSTM weights densely
and does not take sparse initializers for them, so a sparse file would be converted back anyway.
"""
from __future__ import annotations

import copy
import gzip
import io
import json
import os
import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sparse_sharing import __version__
from sparse_sharing.api import Tagger, known_tasks
from sparse_sharing.components.data.batching import MAX_WORD_CHARS, Batch, index_sentences
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.heads.crf_layer import ConditionalRandomField
from sparse_sharing.components.sharing.sparse import MaskedSharing
from sparse_sharing.errors import UserError
from sparse_sharing.export_runtime import FORMAT_VERSION
from sparse_sharing.files import atomic_write

FORMATS = ("onnx", "torchscript")
RUNTIME_FILE = "tagger_runtime.py"
ONNX_OPSET = 17
INPUTS = ("words", "chars", "lengths")
# What the exporters say about paths this module takes on purpose (see the module docstring).
EXPECTED_WARNINGS = (r".*legacy TorchScript-based ONNX export.*", r".*The feature will be removed.*",
                     r".*batch_size other than 1, with a variable length with LSTM.*",
                     r".*torch\.jit\.(trace|save|load).*deprecated.*")


class TaskNetwork(nn.Module):
    """Word ids [B, T], char ids [B, T, C], lengths [B] → emissions [B, T, tags]: a task's features and
    its head's projection, as ``MultiTaskTagger.decode`` computes them before decoding."""

    def __init__(self, features: nn.Module, projection: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.projection = projection

    def forward(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(words.shape[1], device=words.device).unsqueeze(0) < lengths.unsqueeze(1)
        return self.projection(self.features(Batch(words, chars, mask, lengths, None, [])))


class StrategyFeatures(nn.Module):
    """A sharing strategy's features for one task (strategies with nothing to fold)."""

    def __init__(self, sharing: nn.Module, task: str) -> None:
        super().__init__()
        self.sharing = sharing
        self.task = task

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.sharing(batch, self.task)


def task_network(tagger: Tagger, task: str) -> TaskNetwork:
    """The network of ``task``, on the CPU, built from a copy of the tagger's model (which stays as it was):
    for masked strategies the task's trunk with W ⊙ M_t folded in (what the masked forward substitutes for
    W during each call), otherwise the strategy's own forward."""
    model = copy.deepcopy(tagger.models[task]).cpu()
    sharing = model.sharing
    if isinstance(sharing, MaskedSharing):
        features: nn.Module = sharing.trunk_of(task)
        fold_masks(features, sharing.masks[task].as_dict())
    else:
        features = StrategyFeatures(sharing, task)
    return TaskNetwork(features, model.heads[task].projection).eval()


@torch.no_grad()
def fold_masks(trunk: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Each masked parameter of ``trunk`` (by trunk-relative name) replaced by W ⊙ M: kept entries as they
    are, pruned ones +0.0 (``W * M`` would give -0.0 for negative W, the same values in other bits)."""
    for name, mask in masks.items():
        weight = trunk.get_parameter(name)
        weight.copy_(torch.where(mask, weight, torch.zeros((), dtype=weight.dtype)))


def example_inputs(tagger: Tagger) -> tuple[torch.Tensor, ...]:
    """Two short sentences, indexed as the pipeline indexes them: what tracing runs (any shapes do)."""
    sentences = [Sentence(("EU", "rejects", "it"), None, "example"), Sentence(("Yes", "."), None, "example")]
    dataset = index_sentences(sentences, tagger.vocab, None)
    batch = dataset.batch([0, 1])
    return batch.words, batch.chars, batch.lengths


def serialize(network: TaskNetwork, example: tuple[torch.Tensor, ...], fmt: str) -> bytes:
    """The network as an ONNX or TorchScript file's bytes, every axis (sentences, tokens, characters) dynamic."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        for message in EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        if fmt == "onnx":
            axes = {"words": {0: "sentences", 1: "tokens"}, "chars": {0: "sentences", 1: "tokens", 2: "characters"},
                    "lengths": {0: "sentences"}, "emissions": {0: "sentences", 1: "tokens"}}
            torch.onnx.export(network, example, buffer, dynamo=False, input_names=list(INPUTS),
                              output_names=["emissions"], dynamic_axes=axes, opset_version=ONNX_OPSET)
        else:
            torch.jit.save(torch.jit.trace(network, example), buffer)
    return buffer.getvalue()


def stored_arrays(data: bytes, fmt: str) -> list[np.ndarray]:
    """The floating-point tensors a written file stores (ONNX initializers; TorchScript's state)."""
    if fmt == "onnx":
        import onnx
        from onnx import numpy_helper

        arrays = [numpy_helper.to_array(t) for t in onnx.load_model_from_string(data).graph.initializer]
    else:
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        arrays = [t.numpy() for t in module.state_dict().values()]
    return [a for a in arrays if np.issubdtype(a.dtype, np.floating)]


def size_report(data: bytes, fmt: str) -> dict[str, int]:
    """Parameters the file stores and how many are not zero, their bytes, and the file's size plain and gzipped."""
    arrays = stored_arrays(data, fmt)
    return {
        "parameters": sum(a.size for a in arrays),
        "nonzero": sum(int(np.count_nonzero(a)) for a in arrays),
        "dense_bytes": sum(a.nbytes for a in arrays),
        "nonzero_bytes": sum(int(np.count_nonzero(a)) * a.itemsize for a in arrays),
        "file_bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, mtime=0)),
    }


def crf_scores(head: nn.Module) -> dict[str, Any] | None:
    """A CRF head's transition, start and end scores as Viterbi uses them (disallowed moves pinned), or None."""
    crf = getattr(head, "crf", None)
    if not isinstance(crf, ConditionalRandomField):
        return None
    transitions, start, end = crf._scores(torch.float32)
    return {"transitions": transitions.tolist(), "start": start.tolist(), "end": end.tolist()}


def sidecar(tagger: Tagger, task: str, fmt: str, model_file: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Everything around the network that the runtime (or any consumer) needs, as JSON."""
    vocab, reader = tagger.vocab, tagger.readers[task]
    crf = crf_scores(tagger.models[task].heads[task])
    return {
        "format_version": FORMAT_VERSION,
        "format": fmt,
        "model_file": model_file,
        "source": {"run": str(tagger.run_dir.resolve()), "task": task, "checkpoint": f"checkpoints/best-{task}.pt",
                   "sharing": tagger.config.model.sharing.type, "sparse_sharing": __version__},
        "inputs": {"words": "int64 [sentences, tokens]", "chars": "int64 [sentences, tokens, characters]",
                   "lengths": "int64 [sentences]"},
        "outputs": {"emissions": "float32 [sentences, tokens, tags]"},
        "words": {"vocabulary": vocab.words, "padding": 0, "unknown": 1, "lowercase": vocab.lowercase_words},
        "chars": {"vocabulary": vocab.chars, "padding": 0, "unknown": 1, "max_per_word": MAX_WORD_CHARS},
        "lookup": "a token's word id is that of the token itself, or of token.lower() (Python's str.lower) when "
                  "words.lowercase is true; its character ids are those of its first chars.max_per_word characters "
                  "(code points), case kept; anything not in a vocabulary gets the unknown id, padding the padding id",
        "tags": {"labels": vocab.labels[task], "scheme": reader.tag_scheme,
                 "output_scheme": getattr(reader, "file_scheme", reader.tag_scheme)},
        "decoder": "argmax" if crf is None else "viterbi",
        "crf": crf,
        "sizes": sizes,
    }


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name + ".json")


def check_writable(output: Path) -> None:
    """Refuse an output that cannot be written before any work is done."""
    if output.is_dir():
        raise UserError(f"-o {output} is a directory: give a file name, e.g. {output / 'model.onnx'}")
    folder = output.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {output}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {output}: {folder} is not writable")


def require_backend(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}': {' or '.join(FORMATS)}")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UserError("ONNX export needs the onnx package: pip install 'sparse-sharing[export]'") from None


def export_task(tagger: Tagger, task: str, output: Path, fmt: str = "onnx") -> dict[str, int]:
    """Write ``output``, its sidecar and the runtime beside it; returns the file's size report.

    Each file is written atomically; the ONNX model is checked with ``onnx.checker`` before it is written.
    """
    require_backend(fmt)
    known_tasks(tagger.config, [task], available=tagger.tasks)
    check_writable(output)
    network = task_network(tagger, task)
    try:
        data = serialize(network, example_inputs(tagger), fmt)
    except Exception as error:  # an operator or a plugin component the exporter cannot write
        raise UserError(f"cannot export task '{task}' of {tagger.run_dir} as {fmt}: {str(error).splitlines()[0]} "
                        f"(sharing '{tagger.config.model.sharing.type}'; ssl --debug shows where)") from error
    if fmt == "onnx":
        import onnx

        onnx.checker.check_model(onnx.load_model_from_string(data), full_check=True)
    sizes = size_report(data, fmt)
    meta = sidecar(tagger, task, fmt, output.name, sizes)
    atomic_write(output, lambda s: s.write(data), size=len(data))
    atomic_write(sidecar_path(output), lambda s: s.write((json.dumps(meta, indent=1) + "\n").encode()))
    runtime = files("sparse_sharing").joinpath("export_runtime.py").read_bytes()
    atomic_write(output.parent / RUNTIME_FILE, lambda s: s.write(runtime))
    return sizes
