"""Every sharing strategy trains end to end through the real CLI, on the tiny cut of the embedded corpus."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_ssl

STRATEGIES = {
    "hierarchical": ['model.encoder.num_layers=2',
                     'model.sharing={"type": "hierarchical", "task_layers": {"pos": 1, "chunk": 2, "ner": 2}}'],
    "cross_stitch": ['model.sharing={"type": "cross_stitch"}'],
    "sluice": ['model.sharing={"type": "sluice", "subspaces": 2}'],
}


def sharing_scalars(run: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {tag for tag in events.Tags()["scalars"] if tag.startswith("sharing/")}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_strategy_trains_end_to_end(strategy: str, tiny_config: Path, tmp_path: Path) -> None:
    run = tmp_path / strategy
    overrides = [arg for override in STRATEGIES[strategy] for arg in ("-o", override)]
    result = run_ssl("train", tiny_config, "-s", run, *overrides)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["finished"] and metrics["strategy"] == strategy
    assert set(metrics["tasks"]) == {"pos", "chunk", "ner"}
    assert all(0 <= figures["test"] <= 100 for figures in metrics["tasks"].values())
    assert 0 < metrics["parameters"]["paper"] < metrics["parameters"]["total"]
    scalars = sharing_scalars(run)
    if strategy == "hierarchical":
        assert not scalars
    else:  # the learned mixing weights are on TensorBoard
        assert "sharing/cross_stitch/layer1/pos<-ner" in scalars or "sharing/sluice/beta/pos/layer1" in scalars
        assert len(scalars) == {"cross_stitch": 9, "sluice": 6 * 6 + 3}[strategy]
