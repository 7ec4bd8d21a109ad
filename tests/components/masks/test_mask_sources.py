"""The cheaper mask sources, `gradual` and `one_shot`: schedules against hand-computed kept
fractions, exact pruning counts, selection, resume mid-source, and runs through `ssl train`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.errors import ConfigError
from sparse_sharing.components.masks.candidates import CandidateSource, prune_to, recorded_search_seconds
from sparse_sharing.components.masks.gradual import (
    GradualConfig,
    GradualMagnitudePruning,
    cubic_kept_fraction,
    gradual_targets,
)
from sparse_sharing.components.masks.one_shot import OneShotConfig, OneShotPruning
from sparse_sharing.components.masks.selection import FixedRoundConfig

TASKS = ("pos", "chunk", "ner")
GRADUAL = {"type": "gradual", "kept_fractions": [0.7, 0.49, 0.343], "steps": 40, "prune_every": 5,
           "warmup_steps": 5}
ONE_SHOT = {"type": "one_shot", "kept_fractions": [1.0, 0.49, 0.343], "train_steps": 20, "retrain_steps": 5,
            "warmup_steps": 5}


# ------------------------------------------------------------------------- schedules
def test_cubic_schedule_by_hand() -> None:
    # s_f = 0.9 over steps 0..100: kept = 1 − 0.9 (1 − (1 − t/100)³)
    assert cubic_kept_fraction(0, 0, 100, 0.1) == 1.0
    assert cubic_kept_fraction(50, 0, 100, 0.1) == pytest.approx(1 - 0.9 * (1 - 0.125))  # 0.2125
    assert cubic_kept_fraction(100, 0, 100, 0.1) == pytest.approx(0.1)
    assert cubic_kept_fraction(150, 0, 100, 0.1) == pytest.approx(0.1)  # flat after the span
    assert cubic_kept_fraction(10, 20, 100, 0.1) == 1.0  # dense before it


def test_gradual_plan_stops_at_each_candidate() -> None:
    config = GradualConfig(**GRADUAL)
    # Budget 40, pruning over steps 0..30 (prune_end 0.75) every 5 steps, s_f = 0.657:
    #   5: 1 − 0.657 (1 − (5/6)³) = 0.72321   10: 0.53768 → stops at candidate 0.7
    #  15: 0.42513 → candidate 0.49           20: 1 − 0.657 (26/27) = 0.36733
    #  25: 1 − 0.657 (215/216) = 0.34604      30: 0.343 → candidate 0.343
    plan = gradual_targets(config, 40)
    assert [(step, candidate) for step, _, candidate in plan] == [(5, None), (10, 0), (15, 1), (20, None),
                                                                    (25, None), (30, 2)]
    assert [kept for _, kept, _ in plan] == pytest.approx([0.72321, 0.7, 0.49, 0.36733, 0.34604, 0.343], abs=1e-5)


def test_gradual_plan_needs_a_prune_per_candidate() -> None:
    with pytest.raises(ConfigError, match="fewer than one prune"):
        gradual_targets(GradualConfig(**{**GRADUAL, "prune_every": 20}), 40)


def test_prune_to_keeps_the_largest_exactly() -> None:
    weights = {"a": torch.tensor([[0.1, -0.9], [0.5, 0.3]]), "b": torch.tensor([0.2, -0.8, 0.7, 0.05])}
    ones = {name: torch.ones_like(w, dtype=torch.bool) for name, w in weights.items()}
    half = prune_to(weights, ones, 0.5, "global")
    assert half["a"].tolist() == [[False, True], [True, False]]
    assert half["b"].tolist() == [False, True, True, False]
    quarter = prune_to(weights, half, 0.25, "global")  # from a pruned mask: only kept entries compete
    assert quarter["a"].tolist() == [[False, True], [False, False]]
    assert quarter["b"].tolist() == [False, True, False, False]
    layerwise = prune_to(weights, ones, 0.5, "layerwise")
    assert [int(m.sum()) for m in layerwise.values()] == [2, 2]
    unchanged = prune_to(weights, half, 0.75, "global")  # a mask never grows back
    assert all(torch.equal(unchanged[n], half[n]) for n in half)


def test_candidates_must_decrease() -> None:
    with pytest.raises(ValueError, match="strictly decrease"):
        GradualConfig(**{**GRADUAL, "kept_fractions": [0.5, 0.7]})


def test_a_fixed_round_must_be_a_candidate() -> None:
    OneShotConfig(**{**ONE_SHOT, "selection": FixedRoundConfig(type="round", round=2)})
    with pytest.raises(ValueError, match="beyond the 3 candidates"):
        OneShotConfig(**{**ONE_SHOT, "selection": FixedRoundConfig(type="round", round=3)})


# ------------------------------------------------------------------- search cost
def rounds(seconds: list[float], **extra: object) -> list[dict]:
    return [{"task": "ner", "round": k, "kept_fraction": 0.5, "dev_score": 1.0, "steps": 10 * (k + 1),
             "seconds": s, **extra} for k, s in enumerate(seconds)]


def test_each_source_counts_its_own_search_time() -> None:
    # IMP: every round trains on its own. Gradual: the candidates are moments of one run, each
    # timed from its start. One-shot: the retrainings plus the dense run they share.
    assert CandidateSource.search_seconds(rounds([40.0, 41.5, 39.0])) == 120.5
    assert GradualMagnitudePruning.search_seconds(rounds([100.0, 210.5, 320.0])) == 320.0
    assert OneShotPruning.search_seconds(rounds([10.0, 11.0], dense_seconds=25.2)) == 46.2
    assert OneShotPruning.search_seconds(rounds([10.0, 11.0], dense_seconds=None)) == 21.0  # before dense.json


def test_reports_before_search_seconds_are_costed_by_their_source() -> None:
    cumulative = rounds([100.0, 210.5, 320.0])
    assert recorded_search_seconds({"source": "gradual", "rounds": cumulative, "search_seconds": 7.0}) == 7.0
    assert recorded_search_seconds({"source": "gradual", "rounds": cumulative}) == 320.0
    assert recorded_search_seconds({"source": "search", "rounds": cumulative}) == 630.5
    assert recorded_search_seconds({"source": "one_shot", "rounds": rounds([1.0, 2.0], dense_steps=5)}) == 3.0
    assert recorded_search_seconds({"source": "a_plugin", "rounds": cumulative}) == 630.5  # not registered: summed
    assert recorded_search_seconds({"source": "from_run"}) is None  # no rounds, no figure
    untimed = [{k: v for k, v in r.items() if k != "seconds"} for r in cumulative]
    assert recorded_search_seconds({"source": "search", "rounds": untimed}) is None


# ------------------------------------------------------------- runs through the CLI
def write_masked_config(path: Path, base: Path, masks: dict) -> Path:
    path.write_text(f"(import {json.dumps(base.name)}) + {{\n  model+: {{ sharing: {{ type: 'sparse' }} }},\n"
                    f"  masks: {json.dumps(masks)},\n}}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("mask_sources")
    corpus = write_tiny_corpus(directory / "data")
    write_tiny_config(directory / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    return directory


def train_source(workdir: Path, name: str, masks: dict) -> Path:
    config = write_masked_config(workdir / f"{name}.jsonnet", workdir / "tiny.jsonnet", masks)
    run_dir = workdir / name
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture(scope="module")
def gradual_run(workdir: Path) -> Path:
    return train_source(workdir, "gradual", GRADUAL)


@pytest.fixture(scope="module")
def one_shot_run(workdir: Path) -> Path:
    return train_source(workdir, "one_shot", ONE_SHOT)


def candidate(run_dir: Path, task: str, k: int, suffix: str) -> Path:
    return run_dir / "mask_search" / task / f"round_{k:02d}.{suffix}"


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def check_artifacts(run_dir: Path, fractions: list[float], source: str, cost: int) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["finished"]
    for task in TASKS:
        records = [json.loads(candidate(run_dir, task, k, "json").read_text()) for k in range(len(fractions))]
        assert [r["kept_fraction"] for r in records] == pytest.approx(fractions, abs=2e-3)
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text())
        best = max(records, key=lambda r: (r["dev_score"], r["round"]))  # best dev, ties to the sparser
        assert report["round"] == best["round"] and report["source"] == source
        assert report["search_steps"] == cost and metrics["masks"]["search_steps"][task] == cost
        assert metrics["masks"]["search_seconds"][task] == report["search_seconds"] == search_seconds(
            run_dir, task, records)
        chosen = load(run_dir / "masks" / f"{task}.pt")
        stored = load(candidate(run_dir, task, best["round"], "pt"))["mask"]
        assert all(torch.equal(chosen[n], stored[n]) for n in chosen)
    assert metrics["masks"]["warmup_steps"] == 5
    shown = run_ssl("masks", run_dir)
    assert shown.returncode == 0, shown.stderr


def search_seconds(run_dir: Path, task: str, records: list[dict]) -> float:
    """What the search took, counted by hand from its files."""
    dense = run_dir / "mask_search" / task / "dense.json"
    if dense.exists():  # one-shot: the dense run, then the retrainings
        assert json.loads(dense.read_text())["steps"] == ONE_SHOT["train_steps"]
        return round(json.loads(dense.read_text())["seconds"] + sum(r["seconds"] for r in records), 1)
    if records[0]["steps"] < records[-1]["steps"]:  # gradual: one run, each candidate timed from its start
        assert [r["seconds"] for r in records] == sorted(r["seconds"] for r in records)
        return records[-1]["seconds"]
    raise AssertionError(f"{run_dir} is neither a gradual nor a one-shot run")


def test_gradual_end_to_end(gradual_run: Path) -> None:
    check_artifacts(gradual_run, GRADUAL["kept_fractions"], "gradual", GRADUAL["steps"])
    record = json.loads(candidate(gradual_run, "ner", 0, "json").read_text())
    assert record["steps"] == 15  # scored just before the prune at step 15 moved past it
    # Masks only shrink from one candidate to the next.
    for task in TASKS:
        masks = [load(candidate(gradual_run, task, k, "pt"))["mask"] for k in range(3)]
        for bigger, smaller in zip(masks, masks[1:]):
            assert all(bool((smaller[n] <= bigger[n]).all()) for n in bigger)


def test_one_shot_end_to_end(one_shot_run: Path) -> None:
    # Dense training, then three retrainings, per task.
    check_artifacts(one_shot_run, ONE_SHOT["kept_fractions"], "one_shot", 20 + 3 * 5)


def interrupted_copy(run_dir: Path, target: Path, task: str, keep: int) -> Path:
    """The run as it stood mid-source: no joint training yet, ``task`` with only ``keep`` candidates."""
    shutil.copytree(run_dir, target)
    for name in ("masks", "checkpoints", "tensorboard"):
        shutil.rmtree(target / name, ignore_errors=True)
    (target / "metrics.json").unlink()
    for path in (target / "mask_search" / task).glob("round_*"):
        if int(path.stem.split("_")[1]) >= keep:
            path.unlink()
    return target


@pytest.mark.parametrize("source", ["gradual", "one_shot"])
def test_resume_mid_source(source: str, workdir: Path, request: pytest.FixtureRequest) -> None:
    finished = request.getfixturevalue(f"{source}_run")
    resumed = interrupted_copy(finished, workdir / f"{source}-resumed", "ner", keep=1)
    untouched = {p: p.stat().st_mtime_ns for p in (resumed / "mask_search" / "pos").glob("round_*")}
    dense, record = (resumed / "mask_search" / "ner" / f"dense.{suffix}" for suffix in ("pt", "json"))
    dense_mtime = (dense.stat().st_mtime_ns, record.stat().st_mtime_ns) if dense.exists() else None
    result = run_ssl("train", workdir / f"{source}.jsonnet", "-s", resumed, "--resume")
    assert result.returncode == 0, result.stderr
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched  # finished tasks are not redone
    if dense_mtime is not None:
        assert (dense.stat().st_mtime_ns, record.stat().st_mtime_ns) == dense_mtime  # not trained again
        # The dense run an earlier process timed still counts in the search's time.
        retrainings = sum(json.loads(candidate(resumed, "ner", k, "json").read_text())["seconds"] for k in range(3))
        assert json.loads((resumed / "metrics.json").read_text())["masks"]["search_seconds"]["ner"] == round(
            json.loads(record.read_text())["seconds"] + retrainings, 1)
    for task in TASKS:
        for k in range(3):
            assert json.loads(candidate(resumed, task, k, "json").read_text())["dev_score"] == json.loads(
                candidate(finished, task, k, "json").read_text())["dev_score"]
        assert all(torch.equal(a, b) for a, b in zip(load(resumed / "masks" / f"{task}.pt").values(),
                                                     load(finished / "masks" / f"{task}.pt").values()))
    assert json.loads((resumed / "metrics.json").read_text())["tasks"] == json.loads(
        (finished / "metrics.json").read_text())["tasks"]


@pytest.mark.parametrize("masks", [
    {"type": "gradual", "kept_fractions": [0.7, 0.49], "steps": 40, "prune_every": 10, "warmup_steps": 10},
    {"type": "one_shot", "kept_fractions": [0.7, 0.49], "train_steps": 20, "retrain_steps": 10, "warmup_steps": 10},
], ids=["gradual", "one_shot"])
def test_quickstart_sparse_runs_with_each_source(masks: dict, tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[3] / "experiments" / "quickstart_sparse.jsonnet"
    result = run_ssl("train", config, "-s", tmp_path / "run", "-o", f"masks={json.dumps(masks)}",
                     "-o", "trainer.num_epochs=1", "-o", "num_threads=1")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["finished"] and set(metrics["masks"]["source"].values()) == {masks["type"]}
