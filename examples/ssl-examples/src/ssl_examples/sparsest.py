"""Subnet selection: the sparsest round whose dev score is within ``tolerance`` of the best."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence

from pydantic import Field

from sparse_sharing.registry import SELECTIONS, ComponentConfig


class SparsestWithinConfig(ComponentConfig):
    type: Literal["sparsest_within"]
    tolerance: float = Field(0.5, ge=0.0, description="Dev-score points below the best that are acceptable.")


@SELECTIONS.register("sparsest_within", config=SparsestWithinConfig)
class SparsestWithin:
    def __init__(self, config: SparsestWithinConfig) -> None:
        self.tolerance = config.tolerance

    def choose(self, records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        best = max(r["dev_score"] for r in records)
        good = [r for r in records if r["dev_score"] >= best - self.tolerance]
        return min(good, key=lambda r: (r["kept_fraction"], -r["round"]))
