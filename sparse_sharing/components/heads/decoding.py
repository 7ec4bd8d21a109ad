"""From a head's best tags as one tensor to label ids per sentence.

Heads compute their best tags as a ``[batch, time]`` tensor (``best_tags``) and turn it into lists
here: the tensor part is what ``trainer.compile`` can compile (a conversion to Python lists breaks
a compiled graph), and one conversion per batch is cheaper than one per sentence.
"""
from __future__ import annotations

from torch import Tensor

from sparse_sharing.registry.versions import renamed_argument


@renamed_argument("mask", "padding_mask")
def per_sentence(tags: Tensor, padding_mask: Tensor) -> list[list[int]]:
    """Rows of a ``[batch, time]`` tensor of tag ids as lists, each cut to its sentence's length
    (``padding_mask`` ``[batch, time]``, left-aligned)."""
    return [row[:length] for row, length in zip(tags.tolist(), padding_mask.sum(1).tolist())]
