"""Temperature sampling annealed towards uniform, as jiant and MT-DNN schedule their tasks.

p_t ∝ size_t^(1/T), with T going linearly from ``start`` to ``end`` over ``anneal_epochs``
epochs: early on large tasks dominate (T = 1 is proportional sampling), later every task gets
its turn. The sampler is told the epoch at every step, which is what makes the schedule possible.
"""
from __future__ import annotations

from typing import Any, Literal, Mapping

import numpy as np
from pydantic import Field

from sparse_sharing.registry import SAMPLERS, ComponentConfig


class AnnealedTemperatureConfig(ComponentConfig):
    type: Literal["annealed_temperature"]
    start: float = Field(1.0, gt=0.0, description="Temperature at epoch 0 (1 = proportional).")
    end: float = Field(10.0, gt=0.0, description="Temperature once annealed (large = uniform).")
    anneal_epochs: int = Field(5, gt=0, description="Epochs over which the temperature moves from start to end.")


@SAMPLERS.register("annealed_temperature", config=AnnealedTemperatureConfig)
class AnnealedTemperatureSampler:
    def __init__(self, config: AnnealedTemperatureConfig, sizes: Mapping[str, int], seed: int) -> None:
        self.config = config
        self.tasks = list(sizes)
        self.sizes = np.asarray([sizes[t] for t in self.tasks], dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def temperature(self, epoch: int) -> float:
        progress = min(1.0, epoch / self.config.anneal_epochs)
        return self.config.start + progress * (self.config.end - self.config.start)

    def probabilities(self, epoch: int) -> np.ndarray:
        scaled = self.sizes ** (1.0 / self.temperature(epoch))
        return scaled / scaled.sum()

    def next_task(self, step: int, epoch: int) -> str:
        return self.tasks[int(self.rng.choice(len(self.tasks), p=self.probabilities(epoch)))]

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}  # ints and strings: safe for weights_only loading

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
