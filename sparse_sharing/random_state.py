"""The process's random state: seeding every generator a run draws from.

Why at the bottom: the CLI, the Python API and the mask search's rounds all seed the same three
generators (Python's, NumPy's and torch's), and none of them should import the training loop for it.
"""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (torch's seeds every CUDA device too)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
