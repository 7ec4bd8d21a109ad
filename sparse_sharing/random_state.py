"""The process's random state: seeding every generator a run draws from.

Why at the bottom: the CLI, the Python API and the mask search's rounds all seed the same three
generators (Python's, NumPy's and torch's), and none of them should import the training loop for it.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (torch's seeds every CUDA device too)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads_and_seeds(num_threads: int, seed: int) -> None:
    """The process-wide state a command takes from its config: torch's thread count and every
    generator's seed. Set by the CLI and the Python API alike, so that a run made in either is the
    same run; library code never sets it."""
    torch.set_num_threads(num_threads)
    seed_everything(seed)


@contextmanager
def random_state_kept() -> Iterator[None]:
    """The caller's random state afterwards is what it was before, however much ran inside (a mask
    search: joint training then draws the same numbers whether the search ran here or not)."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
