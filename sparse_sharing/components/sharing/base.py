"""What every sharing strategy provides to the model and the training loop."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from sparse_sharing.components.data.batching import Batch


class SharingStrategy(nn.Module):
    """Maps a task's batch to features for that task's head; the only place that knows how tasks share.

    ``step`` is where a strategy may constrain the update (sparse sharing keeps it inside the
    task's mask); the default is a plain optimizer step.
    """

    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        raise NotImplementedError

    def forward_with_penalty(self, batch: Batch, task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features plus a term the strategy adds to the task's training loss (a sluice network's
        orthogonality penalty); None where the strategy has none."""
        return self(batch, task), None

    def summaries(self) -> dict[str, float]:
        """Learned sharing weights worth watching (cross-stitch units, sluice α and β), by name,
        for TensorBoard; empty where the strategy learns none."""
        return {}

    def output_dim(self, task: str) -> int:
        raise NotImplementedError

    def build_optimizers(
        self, build: Callable[[list[nn.Parameter]], torch.optim.Optimizer], params: list[nn.Parameter],
        tasks: Sequence[str],
    ) -> dict[str, torch.optim.Optimizer]:
        """Task → optimizer. One shared optimizer by default; a strategy may give tasks their own state."""
        shared = build(params)
        return {task: shared for task in tasks}

    def step(self, task: str, optimizer: torch.optim.Optimizer) -> None:
        optimizer.step()

    def paper_parameters(self) -> list[nn.Parameter]:
        """Parameters the paper's tables count: the BiLSTM weights and biases plus the char-CNN conv."""
        return [p for name, p in self.named_parameters() if ".encoder." in f".{name}" or ".conv." in f".{name}"]
