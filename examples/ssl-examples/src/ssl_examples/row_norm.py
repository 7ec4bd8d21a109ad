"""A structured pruner: the kept entries of the weakest rows (output units) go first.

It reuses the built-in ``Pruner``, which removes exactly the scheduled share of kept entries
(ties by position) and keeps masks shrinking; only the score differs from magnitude pruning.
"""
from __future__ import annotations

from typing import Literal, Mapping

import torch

from sparse_sharing.components.pruners.pruners import Pruner, PruningScheduleConfig
from sparse_sharing.registry import PRUNERS


class RowNormPrunerConfig(PruningScheduleConfig):
    type: Literal["row_norm"]


@PRUNERS.register("row_norm", config=RowNormPrunerConfig)
class RowNormPruner(Pruner):
    def scores(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every entry scores its row's L2 norm over the kept entries."""
        scores = {}
        for name, weight in weights.items():
            kept = weight.detach() * mask[name]
            rows = kept.reshape(kept.shape[0], -1).norm(dim=1)
            scores[name] = rows.reshape(-1, *([1] * (kept.dim() - 1))).expand_as(kept).clone()
        return scores
