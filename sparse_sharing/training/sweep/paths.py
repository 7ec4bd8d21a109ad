"""Every file a sweep writes beside its runs, in one place.

The sweep's own files live in ``<output>/.sweep/``, out of the way of ``ssl compare
<output>/*/*``; the run directories themselves are exactly what ``ssl train`` writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SweepPaths:
    output: Path

    @property
    def root(self) -> Path:
        return self.output / ".sweep"

    @property
    def lock(self) -> Path:
        """Held by the `ssl sweep` that is running this output directory's runs."""
        return self.root / "lock"

    def record(self, key: str) -> Path:
        """The sweep's record of a run: running, failed (with the error) or finished."""
        return self.root / f"{key}.json"

    def log(self, key: str) -> Path:
        """Everything the run's `ssl train` printed, kept across attempts."""
        return self.root / f"{key}.log"

    def config(self, key: str) -> Path:
        """The resolved experiment config handed to `ssl train` (what it saves as config.json)."""
        return self.root / f"{key}.config.json"
