"""Per-task binary masks over the shared trunk's prunable weights (True = kept)."""
from sparse_sharing.components.masks.mask_set import (
    PAPER_PRUNABLE,
    MaskSet,
    prunable_parameters,
    read_mask_report,
)

__all__ = ["PAPER_PRUNABLE", "MaskSet", "prunable_parameters", "read_mask_report"]
