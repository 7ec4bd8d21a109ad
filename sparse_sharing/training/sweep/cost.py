"""How many training steps a run will take, estimated from its config and the size of its data,
so the sweep can start the largest runs first (a long run started last decides the wall time).

An estimate, not a promise: sentences are counted as blank-line-separated blocks of the train
files, early stopping is ignored, and a mask source's own estimate is used when it has one.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from sparse_sharing.components.sharing.sparse import MaskedSharingConfig
from sparse_sharing.config.schema import trained_tasks


@functools.lru_cache(maxsize=None)
def count_sentences(path: str) -> int:
    """Blank-line-separated blocks of a CoNLL-style file; 0 for a file that cannot be read (the run
    itself will report that, with its path)."""
    count, inside = 0, False
    try:
        with Path(path).open("rb") as stream:
            for line in stream:
                blank = not line.strip()
                count += inside and blank
                inside = not blank
    except OSError:
        return 0
    return count + inside


def estimated_steps(config: Any) -> int:
    """Joint training steps over every epoch, plus the mask search's when the strategy uses masks."""
    batch = config.trainer.batch_size
    batches = {t: math.ceil(count_sentences(config.tasks[t].train_path) / batch) for t in trained_tasks(config)}
    steps = config.trainer.num_epochs * sum(batches.values())
    estimate = getattr(config.masks, "estimated_steps", None)
    if isinstance(config.model.sharing, MaskedSharingConfig) and estimate is not None:
        steps += estimate(batches)
    return steps
