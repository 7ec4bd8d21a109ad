"""Dropout with ``nn.Dropout``'s distribution and scaling, its mask drawn the cheaper way per device.

Why: on a CPU thread ``nn.Dropout`` draws its mask with ``bernoulli_``, about four times the
cost of uniform numbers compared with ``p`` (1.4 ms against 0.36 ms for a batch's character
embeddings), and the three dropouts of the base network were a tenth of a training step. On
CUDA the fused dropout kernel is the cheaper one (one launch instead of three), so it is kept
there. Either way an entry is kept with probability 1 − p and scaled by 1 / (1 − p).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Dropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        keep = torch.rand(x.shape, dtype=x.dtype).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
