"""The `from_run` mask source: the masks of an earlier run, which skips the search.

By default a task gets the mask that run chose. With a ``selection`` rule it gets the candidate
that rule picks among the run's recorded candidates (``mask_search/<task>/round_<k>``), so one
search serves several choices — e.g. the paper's kept fractions beside the run's own rule —
without a second search.
"""
from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from sparse_sharing.components.masks.candidates import SavedCandidate, saved_candidate
from sparse_sharing.components.masks.mask_set import COMPUTED_REPORT_KEYS, MaskSet, read_mask_report
from sparse_sharing.components.masks.source import Mask, MaskContext, MaskSource
from sparse_sharing.errors import RunDirError
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import MASK_SOURCES, SELECTIONS, ComponentConfig, Nested


class FromRunConfig(ComponentConfig):
    type: Literal["from_run"]
    path: str = Field(description="Run directory whose masks to use (its masks/, one file per task; the "
                      "compact masks of a collected results/ directory too).")
    selection: Annotated[ComponentConfig | None, Nested(SELECTIONS)] = Field(
        None, description="None: the masks that run chose. A selection rule (`ssl components selection`): "
        "choose again among that run's search rounds, which must still be in its mask_search/.")


@MASK_SOURCES.register("from_run", config=FromRunConfig)
class MasksFromRun(MaskSource):
    """The other run's masks, checked against this model; joint training starts from this run's θ0."""

    needs_rewind_point = False

    def __init__(self, config: FromRunConfig) -> None:
        self.config = config
        self.directory = Path(config.path)
        self.selection = SELECTIONS.build(config.selection) if config.selection is not None else None

    def find(self, task: str, context: MaskContext) -> tuple[Mask, dict[str, Any]]:
        if self.selection is None:
            mask = MaskSet.load(self.directory, context.mask_shapes(), tasks=[task])[task]
            return mask, {**source_report(self.directory, task), "from_run": str(self.directory)}
        candidates = self._candidates(task, context)
        chosen = self.selection.choose([record for record, _ in candidates])
        mask = next(tensors["mask"] for record, tensors in candidates if record["round"] == chosen["round"])
        # The source run's own choice need not exist (a search interrupted before it chose).
        report = source_report(self.directory, task) if RunPaths(self.directory).mask_report(task).is_file() else {}
        return mask, {**report, "from_run": str(self.directory), "round": chosen["round"],
                      "dev_score": chosen["dev_score"], "selection": self.config.selection.model_dump(),
                      "rounds": [record for record, _ in candidates]}

    def _candidates(self, task: str, context: MaskContext) -> list[SavedCandidate]:
        """The source run's candidates of ``task`` in order, read until the first missing round."""
        paths, shapes = RunPaths(self.directory), context.mask_shapes()
        found = []
        for k in count():
            candidate = saved_candidate(paths, task, k, shapes)
            if candidate is None:
                break
            found.append(candidate)
        if not found:
            raise RunDirError(f"masks.selection of `from_run` chooses among the search rounds of {self.directory}, "
                              f"but it has none for task '{task}' ({paths.round_record(task, 0)} does not exist); "
                              f"drop `selection` to take the masks that run chose")
        return found


def source_report(directory: Path, task: str) -> dict[str, Any]:
    """The source's report of ``task`` (round, dev score, search, cost...) less what a report computes
    itself (kept fraction, tensors...), which is recomputed when this run saves the masks."""
    return {k: v for k, v in read_mask_report(directory, task).items() if k not in COMPUTED_REPORT_KEYS}
