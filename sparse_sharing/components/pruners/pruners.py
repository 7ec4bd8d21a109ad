"""Pruners: which still-kept weights one round of iterative pruning removes.

A round removes ``rate`` of the entries still kept, rounded to a whole count, and exactly that
count: candidates are ordered by score, ties broken by position (tensor order, then flat
index), so equal magnitudes at the threshold never remove more than asked and a round is a
pure function of the weights and the mask. Only kept entries are candidates, so masks only
shrink (new ⊆ old) and the weights behind pruned entries, whatever they are, never matter.

Schedule (paper): ``rate = 1 − final_kept^(1/rounds)``, so ``rounds`` rounds reach ``final_kept``
(0.1 over 20 rounds: 10.87 % a round, 56.23 % kept after 5).
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Literal, Mapping

import torch
from pydantic import Field

from sparse_sharing.errors import PluginError
from sparse_sharing.registry import PRUNERS, ComponentConfig

Masks = dict[str, torch.Tensor]


class PruningScheduleConfig(ComponentConfig):
    final_kept: float = Field(0.1, gt=0.0, le=1.0, description="Fraction of prunable weights kept after `rounds` "
                              "rounds; sets the per-round rate unless `rate` is given.")
    rounds: int = Field(20, gt=0, description="Pruning rounds of the search.")
    rate: float | None = Field(None, gt=0.0, lt=1.0, description="Fraction of the remaining weights removed each "
                               "round; none = 1 − final_kept^(1/rounds).")
    scope: Literal["global", "layerwise"] = Field(
        "global", description="global: one magnitude threshold over all prunable tensors together (the paper); "
        "layerwise: the same fraction removed from every tensor.")


class Pruner(ABC):
    """Removes the lowest-scoring kept entries; subclasses say what the score is (``scores``).

    How many entries each tensor loses is fixed by the schedule, not by the scores: with ``scope:
    layerwise`` the same share of every tensor, with ``scope: global`` the share a global magnitude
    threshold would take from each tensor (the paper's rule). ``scores`` then only orders the kept
    entries within each tensor. A pruner that decides the counts too implements the contract's
    ``prune`` itself, without this base.
    """

    def __init__(self, config: PruningScheduleConfig) -> None:
        self.config = config

    @property
    def rate(self) -> float:
        if self.config.rate is not None:
            return self.config.rate
        return 1.0 - self.config.final_kept ** (1.0 / self.config.rounds)

    def kept_fraction_after(self, rounds_done: int) -> float:
        """The schedule's kept fraction after ``rounds_done`` rounds, before rounding to whole entries."""
        return (1.0 - self.rate) ** rounds_done

    def prune(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> Masks:
        """A new mask (True = kept) with ``rate`` of ``mask``'s kept entries removed; inputs are not modified.

        Computed on the CPU whatever device trained the weights: masks live on the CPU (in mask
        sets and files), and a GPU-trained search then prunes exactly as a CPU one would.
        """
        weights = {name: w.detach().cpu() for name, w in weights.items()}
        mask = {name: m.cpu() for name, m in mask.items()}
        _check_matching(weights, mask)
        counts = removal_counts(weights, mask, self.rate, self.config.scope)
        scores = self.scores(weights, mask)
        _check_scores(self, scores, mask)
        return {name: remove_lowest(scores[name], mask[name], counts[name]) for name in mask}

    @abstractmethod
    def scores(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> Masks:
        """Name → a float tensor of the weight's shape: per entry, the lower, the sooner it is pruned.

        ``weights`` and ``mask`` (bool, True = kept) are name → tensor dicts on the CPU, detached; the
        scores of entries already pruned are ignored.
        """


class MagnitudePrunerConfig(PruningScheduleConfig):
    type: Literal["magnitude"]


@PRUNERS.register("magnitude", config=MagnitudePrunerConfig)
class MagnitudePruner(Pruner):
    """Iterative magnitude pruning: the smallest |w| go first."""

    def scores(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> Masks:
        return {name: w.detach().abs() for name, w in weights.items()}


class RandomPrunerConfig(PruningScheduleConfig):
    type: Literal["random"]
    seed: int = Field(0, description="Seeds the draw, together with the weights and mask being pruned.")


@PRUNERS.register("random", config=RandomPrunerConfig)
class RandomPruner(Pruner):
    """The control for magnitude pruning: per tensor, as many entries as magnitude pruning with the
    same scope would remove, at uniformly random kept positions.

    The draw is seeded by ``seed`` and a digest of the weights and the mask, so it is reproducible
    (a resumed search redraws the same subnet) yet differs between tasks, whose masks all start
    as all-ones but whose trained weights differ.
    """

    def scores(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> Masks:
        digest = hashlib.sha256(str(self.config.seed).encode())
        for name in mask:
            digest.update(_raw_bytes(weights[name]))
            digest.update(_raw_bytes(mask[name]))
        generator = torch.Generator().manual_seed(int.from_bytes(digest.digest()[:8], "little"))
        return {name: torch.rand(m.shape, generator=generator).to(m.device) for name, m in mask.items()}


def removal_counts(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor], rate: float,
                   scope: Literal["global", "layerwise"]) -> dict[str, int]:
    """How many kept entries each tensor loses in a magnitude round of ``scope`` at ``rate``."""
    if scope == "layerwise":
        return {name: round(rate * int(m.sum())) for name, m in mask.items()}
    names = list(mask)
    kept = [weights[n].detach().abs().flatten()[mask[n].flatten()] for n in names]
    magnitudes = torch.cat(kept)
    removed = torch.sort(magnitudes, stable=True).indices[: round(rate * magnitudes.numel())]
    owner = torch.repeat_interleave(torch.arange(len(names), device=magnitudes.device),
                                    torch.tensor([k.numel() for k in kept], device=magnitudes.device))
    counts = torch.bincount(owner[removed], minlength=len(names))
    return {name: int(c) for name, c in zip(names, counts)}


def remove_lowest(scores: torch.Tensor, mask: torch.Tensor, count: int) -> torch.Tensor:
    """``mask`` without its ``count`` lowest-scoring kept entries (ties: lower flat index first).

    Per tensor this selects exactly what a global stable sort selects, so global magnitude
    pruning is its per-tensor counts followed by this.
    """
    flat = mask.flatten().clone()
    kept = flat.nonzero().squeeze(1)
    order = torch.sort(scores.flatten()[kept], stable=True).indices[:count]
    flat[kept[order]] = False
    return flat.view(mask.shape)


def _check_matching(weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> None:
    if set(weights) != set(mask):
        raise ValueError(f"weights {sorted(weights)} and mask {sorted(mask)} name different tensors")
    for name, m in mask.items():
        if m.dtype != torch.bool or m.shape != weights[name].shape:
            raise ValueError(f"mask '{name}' is {m.dtype} {tuple(m.shape)}; expected torch.bool "
                             f"{tuple(weights[name].shape)}")


def _check_scores(pruner: Pruner, scores: object, mask: Mapping[str, torch.Tensor]) -> None:
    """A plugin's ``scores`` that returns something else is named here, not by a KeyError deep in the pruning."""
    fits = isinstance(scores, Mapping) and set(scores) == set(mask) and all(
        isinstance(scores[n], torch.Tensor) and scores[n].shape == m.shape for n, m in mask.items())
    if not fits:
        got = (f"keys {sorted(scores)}" if isinstance(scores, Mapping) else type(scores).__name__)
        raise PluginError(f"pruner '{pruner.config.type}' ({type(pruner).__module__}.{type(pruner).__qualname__}): "
                          f"scores(weights, mask) must return a dict of every tensor's name ({', '.join(sorted(mask))}) "
                          f"→ a tensor of its shape; it returned {got}. See docs/plugins.md#pruner.")


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes()
