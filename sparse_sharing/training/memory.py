"""Exhausted memory in a stage of a run, said as one ``OutOfMemory``: the stage, the device, the
sizes involved and the config keys that change them.

Each stage that allocates in proportion to a config setting is wrapped here: building the model
(the model's sizes), a training step (``trainer.batch_size`` and the model's sizes) and an
evaluation (``trainer.eval_batch_size``, which a resumed run may change: it is how the run
computes, not what it computes). An allocation that fails elsewhere still ends in one message,
without a stage (``cli.common``).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

import torch

from sparse_sharing.devices import is_out_of_memory, memory_of, requested_bytes
from sparse_sharing.errors import OutOfMemory
from sparse_sharing.files import human_size

# Model settings that scale its tensors; shown largest first, at most this many.
_SIZE_KEY = re.compile(r"(size|dim|filters|layers)$")
_SHOWN_KEYS = 4


def out_of_memory(error: BaseException, device: torch.device | None, stage: str, advice: str,
                  resume_args: tuple[str, ...] | None = None) -> OutOfMemory:
    """The fault for ``error`` (a failed allocation) in ``stage``: what was asked for, what the
    device has, and ``advice`` (which keys to lower)."""
    asked = requested_bytes(error)
    memory = memory_of(device) if device is not None else None
    figures = [f"an allocation of {human_size(asked)} failed" if asked else "an allocation failed"]
    if memory is not None:
        total, free = memory
        owner = "the GPU" if device.type == "cuda" else "the machine"
        figures.append(f"{owner} has {human_size(total)}, {human_size(free)} free")
    where = "".join(f" {part}" for part in (f"on {device}" if device is not None else "", stage) if part)
    return OutOfMemory(" ".join(part for part in (f"out of memory{where}: {'; '.join(figures)}.", advice) if part),
                       resume_args)


def memory_fault(error: BaseException) -> OutOfMemory | None:
    """A failed allocation that no stage has described as an ``OutOfMemory`` without a stage;
    None for any other error."""
    return out_of_memory(error, None, "", "") if is_out_of_memory(error) else None


def model_size_keys(config: Any) -> str:
    """The model's size settings as ``-o`` keys with their values, largest first."""
    found: list[tuple[int, str]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}")
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{path}.{index}")
        elif isinstance(value, int) and not isinstance(value, bool) and _SIZE_KEY.search(path):
            found.append((value, path))

    walk(config.model.model_dump(), "model")
    found.sort(key=lambda item: -item[0])
    return ", ".join(f"{path}={value}" for value, path in found[:_SHOWN_KEYS])


@contextmanager
def building_model(config: Any, device: torch.device) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        raise out_of_memory(error, device, "while building the model",
                            f"The model's sizes decide it: {model_size_keys(config)}; lower them.") from error


@contextmanager
def training_step(trainer: Any, task: str, batch: Any) -> Iterator[None]:
    """``trainer``: the running ``Trainer`` (it imports this module, so named, not imported)."""
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        config = trainer.config
        stage = (f"in a training step (task {task}, epoch {trainer.epoch + 1}, step {trainer.step + 1}: "
                 f"a batch of {len(batch.lengths)} sentences, {batch.num_tokens()} tokens)")
        raise out_of_memory(error, trainer.device, stage,
                            f"Lower trainer.batch_size (now {config.trainer.batch_size}) or the model's sizes "
                            f"({model_size_keys(config)}): either makes another experiment, to start as a new run "
                            f"(another -s, or --force). Or free memory (or choose a device with more, --device) "
                            f"and resume this run as it is.", resume_args=()) from error


@contextmanager
def evaluating(trainer: Any, task: str, split: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        size = trainer.config.trainer.eval_batch_size
        raise out_of_memory(error, trainer.device, f"while evaluating task {task} on {split} (batches of {size} "
                                                   f"sentences, trainer.eval_batch_size)",
                            "Lower trainer.eval_batch_size: it changes only how the run computes, so the run "
                            "can resume with a smaller one.",
                            resume_args=("-o", f"trainer.eval_batch_size={max(1, size // 2)}")) from error
