"""Every built-in task sampler: the probabilities it draws with, its seeded draws, and its state
carried across a resume."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sparse_sharing.registry import SAMPLERS

SIZES = {"pos": 60, "chunk": 30, "ner": 10}


def build(name: str, seed: int = 3, **options: float):
    return SAMPLERS.build(SAMPLERS.get(name).config(type=name, **options), sizes=SIZES, seed=seed)


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("proportional", {}, [0.6, 0.3, 0.1]),
    ("uniform", {}, [1 / 3, 1 / 3, 1 / 3]),
    ("temperature", {"temperature": 2.0}, np.sqrt([60, 30, 10]) / np.sqrt([60, 30, 10]).sum()),
    ("temperature", {"temperature": 1.0}, [0.6, 0.3, 0.1]),
])
def test_fixed_probability_samplers(name: str, options: dict, expected: list[float]) -> None:
    sampler = build(name, **options)
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)
    draws = Counter(sampler.next_task(step, 0) for step in range(6000))
    for task, p in zip(SIZES, expected):
        assert abs(draws[task] / 6000 - p) < 0.03


def test_round_robin_takes_the_tasks_in_turn() -> None:
    sampler = build("round_robin")
    assert [sampler.next_task(step, 0) for step in range(7)] == ["pos", "chunk", "ner"] * 2 + ["pos"]


@pytest.mark.parametrize("name", ["proportional", "uniform", "temperature", "round_robin"])
def test_a_sampler_is_seeded_and_resumes_where_it_stopped(name: str) -> None:
    first = build(name)
    head = [first.next_task(step, 0) for step in range(20)]
    state = first.state_dict()
    tail = [first.next_task(step, 0) for step in range(20, 40)]
    again = build(name)
    assert [again.next_task(step, 0) for step in range(20)] == head
    resumed = build(name, seed=99)  # another seed: the state, not the seed, decides what follows
    resumed.load_state_dict(state)
    assert [resumed.next_task(step, 0) for step in range(20, 40)] == tail
