"""Subnet-selection rules: which round of a task's mask search it keeps (``masks.selection``)."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence

from pydantic import Field

from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SELECTIONS, ComponentConfig

Record = Mapping[str, Any]  # one round: task, round, kept_fraction, dev_score, ...


class BestDevConfig(ComponentConfig):
    type: Literal["best_dev"] = "best_dev"


@SELECTIONS.register("best_dev", config=BestDevConfig)
class BestDev:
    """The paper's rule: the best dev score; on ties the sparser mask (the later round)."""

    def __init__(self, config: BestDevConfig) -> None:
        pass

    def choose(self, records: Sequence[Record]) -> Record:
        return max(records, key=lambda r: (r["dev_score"], r["round"]))


class FixedRoundConfig(ComponentConfig):
    type: Literal["round"]
    round: int = Field(ge=0, description="Take this round's mask for every task (0 = dense).")


@SELECTIONS.register("round", config=FixedRoundConfig)
class FixedRound:
    def __init__(self, config: FixedRoundConfig) -> None:
        self.round = config.round

    def choose(self, records: Sequence[Record]) -> Record:
        matches = [r for r in records if r["round"] == self.round]
        if not matches:
            raise ConfigError(f"selection round {self.round} was not run (rounds 0–{records[-1]['round']})")
        return matches[0]


class NearestKeptConfig(ComponentConfig):
    type: Literal["kept_fraction"]
    kept_fraction: float = Field(gt=0.0, le=1.0, description="Take the round whose kept fraction is nearest.")


@SELECTIONS.register("kept_fraction", config=NearestKeptConfig)
class NearestKept:
    """The round nearest a kept fraction; an exact tie goes to the sparser, later round."""

    def __init__(self, config: NearestKeptConfig) -> None:
        self.kept_fraction = config.kept_fraction

    def choose(self, records: Sequence[Record]) -> Record:
        return min(records, key=lambda r: (abs(r["kept_fraction"] - self.kept_fraction), -r["round"]))
