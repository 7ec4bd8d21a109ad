"""Subnet-selection rules: which round of a task's mask search it keeps (``masks.selection``)."""
from __future__ import annotations

import math
import statistics
from typing import Annotated, Literal, Sequence

from pydantic import Field

from sparse_sharing.components.records import CandidateRecord
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SELECTIONS, ComponentConfig

Record = CandidateRecord  # the former name, kept for plugins that import it


class BestDevConfig(ComponentConfig):
    type: Literal["best_dev"] = "best_dev"


@SELECTIONS.register("best_dev", config=BestDevConfig)
class BestDev:
    """The paper's rule: the best dev score; on ties the sparser mask (the later round)."""

    def __init__(self, config: BestDevConfig) -> None:
        pass

    def choose(self, records: Sequence[CandidateRecord]) -> CandidateRecord:
        return max(records, key=lambda r: (r["dev_score"], r["round"]))


class FixedRoundConfig(ComponentConfig):
    type: Literal["round"]
    round: int = Field(ge=0, description="Take this round's mask for every task (0 = dense).")


@SELECTIONS.register("round", config=FixedRoundConfig)
class FixedRound:
    def __init__(self, config: FixedRoundConfig) -> None:
        self.round = config.round

    def choose(self, records: Sequence[CandidateRecord]) -> CandidateRecord:
        matches = [r for r in records if r["round"] == self.round]
        if not matches:
            raise ConfigError(f"selection round {self.round} was not run (rounds 0–{records[-1]['round']})")
        return matches[0]


Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


class NearestKeptConfig(ComponentConfig):
    type: Literal["kept_fraction"]
    kept_fraction: Fraction | dict[str, Fraction] = Field(
        description="Take the round whose kept fraction is nearest this one; or task → kept fraction, every "
        "searched task named (e.g. the paper's {pos: 0.5012, chunk: 0.4467, ner: 0.5623}).")


@SELECTIONS.register("kept_fraction", config=NearestKeptConfig)
class NearestKept:
    """The round nearest a kept fraction (one for all tasks, or one per task); an exact tie goes to
    the sparser, later round."""

    def __init__(self, config: NearestKeptConfig) -> None:
        self.kept_fraction = config.kept_fraction

    def check_tasks(self, tasks: Sequence[str]) -> None:
        """Before any search: a per-task target must name every task searched."""
        if isinstance(self.kept_fraction, dict):
            missing = [t for t in tasks if t not in self.kept_fraction]
            if missing:
                raise ConfigError(f"masks.selection.kept_fraction names no kept fraction for task(s) "
                                  f"{', '.join(missing)}; it names {', '.join(sorted(self.kept_fraction))}")

    def choose(self, records: Sequence[CandidateRecord]) -> CandidateRecord:
        target = self.kept_fraction
        if isinstance(target, dict):
            task = records[0]["task"]
            if task not in target:
                raise ConfigError(f"masks.selection.kept_fraction names no kept fraction for task '{task}' "
                                  f"(it names {', '.join(sorted(target))})")
            target = target[task]
        return min(records, key=lambda r: (abs(r["kept_fraction"] - target), -r["round"]))


class SparsestWithinNoiseConfig(ComponentConfig):
    type: Literal["sparsest_within_noise"]
    tolerance: float = Field(1.0, ge=0.0, description="How many noise standard deviations below the best dev "
                             "score a round may be and still count as level with it.")


@SELECTIONS.register("sparsest_within_noise", config=SparsestWithinNoiseConfig)
class SparsestWithinNoise:
    """The sparsest round whose dev score is within ``tolerance`` × the search's own noise of the best.

    Why: on CoNLL-2003 the dev curve of an IMP search is flat from the dense round down to 15–20 %
    kept (one-epoch and three-epoch rounds alike), so the best round differs from its neighbours by
    less than the rounds' noise and ``best_dev`` picks at random. The noise is estimated from the
    rounds themselves, as the spread of successive differences: for scores s_k = f(k) + e_k with a
    curve f that changes slowly from round to round, s_k − s_{k−1} ≈ e_k − e_{k−1}, whose standard
    deviation is √2 σ (the population standard deviation of the differences, so a steady slope is
    not counted as noise). With two rounds there is one difference and no spread: the rule is then
    ``best_dev``'s (ties to the sparser).
    """

    def __init__(self, config: SparsestWithinNoiseConfig) -> None:
        self.tolerance = config.tolerance

    def choose(self, records: Sequence[CandidateRecord]) -> CandidateRecord:
        threshold = max(r["dev_score"] for r in records) - self.tolerance * round_noise(records)
        return min((r for r in records if r["dev_score"] >= threshold), key=lambda r: (r["kept_fraction"], -r["round"]))


def round_noise(records: Sequence[CandidateRecord]) -> float:
    """The standard deviation σ of a round's dev score around the search's curve, from successive
    differences (rounds in order): pstdev(s_k − s_{k−1}) / √2; 0 for fewer than three rounds."""
    scores = [r["dev_score"] for r in sorted(records, key=lambda r: r["round"])]
    differences = [b - a for a, b in zip(scores, scores[1:])]
    return statistics.pstdev(differences) / math.sqrt(2) if len(differences) > 1 else 0.0

