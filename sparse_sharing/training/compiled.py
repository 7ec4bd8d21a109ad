"""``trainer.compile``: each task head's training loss under ``torch.compile``, on a few shapes;
and the heads' decoding compiled the same way, for measuring (the trainer decodes eagerly).

Why the heads and nothing else (measured on one CPU thread, CoNLL-2003, batch 10; the README's
Benchmarks section has the figures): the head's loss (projection, the CRF's gold score and its
forward algorithm, a dozen small operators per time step) is many small operators on small
tensors, and compiled it runs about 1.8x faster, forward and backward (the whole step, though,
measured level with eager: the head is under a tenth of it). The trunk does not pay: the
LSTM's and the char conv's kernels (over half of a step) are what Inductor would call unchanged,
Dynamo breaks the graph at every LSTM, and the char CNN compiled ran slower than eager
(0.4-1.0x) and recompiled on every word length even with dynamic shapes.

Bounded shapes: the CRF's forward algorithm is a Python loop over time steps, so a graph holds
one sentence length. The head pads the batch's length up to the next bucket (16, 32, 64) before
the compiled call and cuts the gradient back, so each head compiles at most three graphs (the
batch size is left dynamic); a longer batch runs eagerly. Padding does not change the loss: the
CRF and the softmax read only positions under the mask, and the padded features get zero gradient.

Decoding: ``CompiledHeads.decode`` compiles a head's ``best_tags`` (the CRF's Viterbi, the
softmax's argmax; a head without it decodes eagerly) on the same buckets, and cuts each sentence's
tags back to its length, giving the tags eager decoding gives. The trainer's evaluation does not
use it, measured on one CPU thread (the README's Benchmarks section): the Viterbi is about 2.5 %
of decoding CoNLL-2003 at batch 256 (the trunk is the rest), so compiling can save at most that,
and compiled it was no faster (a decoding pass 0.95x eager; at 256 sentences a Viterbi step is
arithmetic, not dispatch, and short batches padded to 16 steps do more of it), after tens of
seconds of compiling a graph. ``benchmarks/side_by_side.py`` measures it (``decode_compiled``).

The compile cache: Inductor keeps its compiled graphs on disk (``TORCHINDUCTOR_CACHE_DIR``), set
here to ``sparse-sharing/inductor`` in the user's cache directory unless already set, so a resumed
run, every mask-search round and every ``--jobs`` worker on the machine load a graph compiled
once instead of compiling it again; within a process, a head of the same shapes as one compiled
before (a new trainer's, a search round's) reuses its graph.

Where compiling fails (no C++ compiler, an operator Dynamo refuses), the run logs one line and
computes the rest eagerly; the results are the same either way, within float rounding.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparse_sharing.components.heads.decoding import per_sentence

logger = logging.getLogger(__name__)

# Sentence-length buckets of the compiled head loss: a batch is padded to the first that holds it.
LENGTH_BUCKETS = (16, 32, 64)


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def compile_cache_dir() -> Path:
    """Where Inductor's on-disk cache lives: ``$TORCHINDUCTOR_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/sparse-sharing/inductor`` (``~/.cache`` without XDG)."""
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sparse-sharing" / "inductor"


def bucket(length: int) -> int | None:
    """The bucket a batch of sentences up to ``length`` tokens is padded to; None above the largest."""
    return next((size for size in LENGTH_BUCKETS if length <= size), None)


def padded_to(length: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each ``[batch, time, ...]`` tensor padded along time to ``length`` steps with zeros (zero
    features, tag 0, padding_mask False)."""
    return tuple(nn.functional.pad(t, (0, 0) * (t.dim() - 2) + (0, length - t.shape[1])) for t in tensors)


class CompiledHeads:
    """Per task, the head's ``loss(features, tags, padding_mask)`` and its ``best_tags(features, padding_mask)``
    (decoding, for heads that have it) compiled, with the compile time they took.

    ``seconds`` sums the wall time of every call that compiled a new graph (the first call of a task
    at a bucket; for a loss, its forward and backward): what compiling cost this process.
    ``failure`` holds why compiling was given up, once it was; from then on every call is eager.
    """

    def __init__(self, heads: nn.ModuleDict) -> None:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
        if "TORCH_LOGS" not in os.environ:
            # The compiler's warnings (a recompile, a backward it could not compile ahead, with its
            # traceback) are not the user's to act on; a failure is reported here, in one line.
            torch._logging.set_logs(dynamo=logging.ERROR, aot=logging.ERROR, inductor=logging.ERROR)
        # One graph per head and bucket: more than Dynamo's default of 8 per function for three heads.
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit,
                                                   2 * len(heads) * len(LENGTH_BUCKETS))
        self.heads = heads
        self.compiled_losses = {task: torch.compile(head.loss, dynamic=False) for task, head in heads.items()}
        # A plugin head without ``best_tags`` decodes eagerly through its own ``decode``.
        self.compiled_tags = {task: torch.compile(head.best_tags, dynamic=False) for task, head in heads.items()
                              if callable(getattr(head, "best_tags", None))}
        self.seen: set[tuple[str, str, int]] = set()  # (what, task, bucket) compiled: "loss" or "decoding"
        self.seconds = 0.0
        self.failure: str | None = None

    def loss(self, task: str, features: torch.Tensor, tags: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """``task``'s head loss, compiled where the batch fits a bucket and compiling has not failed."""
        loss = self._run("loss", task, self.compiled_losses[task], features, tags, padding_mask)
        return self.heads[task].loss(features, tags, padding_mask) if loss is None else loss

    def decode(self, task: str, features: torch.Tensor, padding_mask: torch.Tensor) -> list[list[int]]:
        """``task``'s head decoding: its ``best_tags`` compiled where the batch fits a bucket (the
        padding goes with each sentence's tail), else the head's own ``decode``."""
        tags = self._run("decoding", task, self.compiled_tags.get(task), features, padding_mask)
        return self.heads[task].decode(features, padding_mask) if tags is None else per_sentence(tags, padding_mask)

    def _run(self, what: str, task: str, compiled: Any, *batch: torch.Tensor) -> torch.Tensor | None:
        """``compiled`` on the batch padded to its bucket (the batch size left dynamic); None where the
        caller is to compute eagerly: no bucket holds the batch, nothing is compiled for it, or
        compiling failed (now, logged in one line, or before)."""
        size = bucket(batch[0].shape[1])
        if self.failure is not None or size is None or compiled is None:
            return None
        padded = padded_to(size, *batch)
        torch._dynamo.maybe_mark_dynamic(padded[0], 0)
        began = time.monotonic()
        try:
            result = compiled(*padded)
        except Exception as error:  # noqa: BLE001  (any compiler failure: the eager path computes the same)
            self.failure = f"{type(error).__name__}: {first_line(error)}"
            logger.warning("trainer.compile: compiling task %s's %s failed (%s); %s eagerly", task, what,
                           self.failure, "training" if what == "loss" else "decoding")
            return None
        if (what, task, size) not in self.seen:
            self.seen.add((what, task, size))
            self._time_compiling(f"task {task}'s {what}", size, time.monotonic() - began, result, padded[0])
        return result

    def _time_compiling(self, subject: str, size: int, forward_seconds: float, result: torch.Tensor,
                        features: torch.Tensor) -> None:
        """Adds the first call's forward time and, where it is a loss being trained, its backward time
        once that has run (AOTAutograd compiles the backward graph when it first runs): from the
        loss's gradient arriving to the padded features' gradient leaving the compiled graph."""
        self.seconds += forward_seconds
        if not features.requires_grad:
            logger.info("trainer.compile: %s compiled for sentences up to %d tokens in %.1f s", subject, size,
                        forward_seconds)
            return
        backward_began: list[float] = []

        def on_loss_gradient(grad: torch.Tensor) -> None:
            backward_began.append(time.monotonic())

        def on_features_gradient(grad: torch.Tensor) -> None:
            backward_seconds = time.monotonic() - backward_began[0] if backward_began else 0.0
            self.seconds += backward_seconds
            logger.info("trainer.compile: %s compiled for sentences up to %d tokens in %.1f s", subject, size,
                        forward_seconds + backward_seconds)

        result.register_hook(on_loss_gradient)
        features.register_hook(on_features_gradient)

    def summary(self, earlier_seconds: float = 0.0) -> dict[str, Any]:
        """What metrics.json records: compile seconds over every start of the run, graphs compiled in
        this process, and the failure if compiling was given up."""
        return {"seconds": round(earlier_seconds + self.seconds, 1), "graphs": len(self.seen),
                "failure": self.failure}
