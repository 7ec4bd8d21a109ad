"""Which task's batch runs next. Every sampler is seeded and its state is saved for resume.

The contract (``sparse_sharing.registry.contracts.TaskSamplerContract``): built with ``sizes`` (task →
training batches per pass) and ``seed``; ``next_task(step, epoch)`` is told the step about to
run and the epochs completed, which fixed-probability samplers ignore and annealed ones use.
"""
from __future__ import annotations

from typing import Literal, Mapping

import numpy as np
from pydantic import Field

from sparse_sharing.registry import SAMPLERS, ComponentConfig


class TaskSampler:
    """Draws tasks with fixed probabilities from a seeded generator."""

    def __init__(self, sizes: Mapping[str, int], seed: int) -> None:
        self.tasks = list(sizes)
        self.rng = np.random.default_rng(seed)
        self.probabilities = self._probabilities(np.asarray([sizes[t] for t in self.tasks], dtype=np.float64))

    def _probabilities(self, sizes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def next_task(self, step: int, epoch: int) -> str:
        return self.tasks[int(self.rng.choice(len(self.tasks), p=self.probabilities))]

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class ProportionalConfig(ComponentConfig):
    type: Literal["proportional"]


@SAMPLERS.register("proportional", config=ProportionalConfig)
class ProportionalSampler(TaskSampler):
    """p_t ∝ number of training batches of t, the paper's stated choice."""

    def __init__(self, config: ProportionalConfig, sizes: Mapping[str, int], seed: int) -> None:
        super().__init__(sizes, seed)

    def _probabilities(self, sizes: np.ndarray) -> np.ndarray:
        return sizes / sizes.sum()


class UniformConfig(ComponentConfig):
    type: Literal["uniform"]


@SAMPLERS.register("uniform", config=UniformConfig)
class UniformSampler(TaskSampler):
    def __init__(self, config: UniformConfig, sizes: Mapping[str, int], seed: int) -> None:
        super().__init__(sizes, seed)

    def _probabilities(self, sizes: np.ndarray) -> np.ndarray:
        return np.full(len(sizes), 1.0 / len(sizes))


class TemperatureConfig(ComponentConfig):
    type: Literal["temperature"]
    temperature: float = Field(2.0, gt=0.0, description="p_t ∝ size_t^(1/T): 1 = proportional, large = uniform.")


@SAMPLERS.register("temperature", config=TemperatureConfig)
class TemperatureSampler(TaskSampler):
    def __init__(self, config: TemperatureConfig, sizes: Mapping[str, int], seed: int) -> None:
        self.temperature = config.temperature
        super().__init__(sizes, seed)

    def _probabilities(self, sizes: np.ndarray) -> np.ndarray:
        scaled = sizes ** (1.0 / self.temperature)
        return scaled / scaled.sum()


class RoundRobinConfig(ComponentConfig):
    type: Literal["round_robin"]


@SAMPLERS.register("round_robin", config=RoundRobinConfig)
class RoundRobinSampler:
    """Tasks in turn, as the authors' code alternates them."""

    def __init__(self, config: RoundRobinConfig, sizes: Mapping[str, int], seed: int) -> None:
        self.tasks = list(sizes)
        self.position = 0

    def next_task(self, step: int, epoch: int) -> str:
        task = self.tasks[self.position % len(self.tasks)]
        self.position += 1
        return task

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.position = state["position"]
