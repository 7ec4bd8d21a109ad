"""The `from_run` mask source: the chosen masks of an earlier run, which skips the search."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sparse_sharing.components.masks.mask_set import COMPUTED_REPORT_KEYS, MaskSet, read_mask_report
from sparse_sharing.components.masks.source import Mask, MaskContext, MaskSource
from sparse_sharing.registry import MASKS, ComponentConfig


class FromRunConfig(ComponentConfig):
    type: Literal["from_run"]
    path: str = Field(description="Run directory whose masks/ to use (its chosen masks, one file per task).")


@MASKS.register("from_run", config=FromRunConfig)
class MasksFromRun(MaskSource):
    """The other run's chosen masks, checked against this model; joint training starts from this run's θ0."""

    needs_rewind_point = False

    def __init__(self, config: FromRunConfig) -> None:
        self.directory = Path(config.path)

    def find(self, task: str, context: MaskContext) -> tuple[Mask, dict[str, Any]]:
        mask = MaskSet.load(self.directory, context.mask_shapes(), tasks=[task])[task]
        # The source's round, dev score, search...; what the report computes itself (kept fraction,
        # tensors...) is recomputed when this run saves the masks.
        report = {k: v for k, v in read_mask_report(self.directory, task).items() if k not in COMPUTED_REPORT_KEYS}
        return mask, {**report, "from_run": str(self.directory)}
