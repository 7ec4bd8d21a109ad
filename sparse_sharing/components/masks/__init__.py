"""Per-task binary masks over the shared trunk's prunable weights (True = kept), and where they come from."""
from sparse_sharing.components.masks import from_run, gradual, one_shot, search, selection  # noqa: F401  (registers them)
from sparse_sharing.components.masks.mask_set import PAPER_PRUNABLE, MaskSet, prunable_parameters, read_mask_report
from sparse_sharing.components.masks.source import MaskContext, MaskSource, TrainedMask

__all__ = ["PAPER_PRUNABLE", "MaskContext", "MaskSet", "MaskSource", "TrainedMask", "prunable_parameters",
           "read_mask_report"]
