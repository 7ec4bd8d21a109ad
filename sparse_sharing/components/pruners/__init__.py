"""Pruners for the mask search: magnitude (the paper's) and random (its control)."""
from sparse_sharing.components.pruners.pruners import (
    MagnitudePruner,
    Pruner,
    PruningScheduleConfig,
    RandomPruner,
    remove_lowest,
    removal_counts,
)

__all__ = ["MagnitudePruner", "Pruner", "PruningScheduleConfig", "RandomPruner", "remove_lowest", "removal_counts"]
